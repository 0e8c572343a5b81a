"""Nightly inventory scans (SPEC §4): SQL Server, Oracle, PostgreSQL and hosts, into inventory files."""
