"""File shares to SharePoint Online (SPEC §5): scan into SQLite, classify, write move manifests."""
