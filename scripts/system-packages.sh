#!/usr/bin/env bash
# Installs the Debian packages the test servers need, only when one is missing.
# The real PostgreSQL, OpenSSH and Samba servers and the headless Chromium in tests/ come from here.
# With `bench` (make bench): also the benchmarks' references that tests do not need (rdfind).
set -euo pipefail
need=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -e /usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so ] || need+=(odbc-postgresql)
command -v odbcinst >/dev/null 2>&1 || need+=(unixodbc)
[ -e /usr/lib/x86_64-linux-gnu/odbc/libtdsodbc.so ] || need+=(tdsodbc)
command -v chromium >/dev/null 2>&1 || need+=(chromium)  # the dashboard test opens status.html in it
[ -x /usr/sbin/smbd ] || need+=(samba)  # SMB share scans against a real Samba server
ls /usr/lib/x86_64-linux-gnu/samba/vfs/offline.so >/dev/null 2>&1 || need+=(samba-vfs-modules)  # offline stubs
if [ "${1:-}" = bench ]; then
    command -v rdfind >/dev/null 2>&1 || need+=(rdfind)  # the department tree's reference (SPEC §6)
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
    echo "system-packages: missing ${need[*]}; run as root or install them (tests needing them will skip)" >&2
    exit 0
fi
echo "system-packages: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
