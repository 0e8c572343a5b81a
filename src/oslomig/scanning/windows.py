"""Windows hosts in `inventory scan` (SPEC §4): one PowerShell command over SSH (OpenSSH ships with Windows Server
2019 and later) prints one JSON document, parsed here into the inventory's host format.

The script is sent as `-EncodedCommand` (UTF-16LE, base64), so it reaches PowerShell unchanged whichever default
shell the server's sshd runs (cmd.exe or PowerShell): no quoting to get wrong. It reads CIM classes
(Win32_OperatingSystem, Win32_ComputerSystem, Win32_Processor, Win32_LogicalDisk), the listening TCP ports
(Get-NetTCPConnection), and the SQL Server instances installed (their services, with version, edition and port from
the instance's registry keys). Windows PowerShell 5.1 and PowerShell 7 both run it.
"""

from __future__ import annotations

import base64
import json
import re

SCRIPT = r"""
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$cs = Get-CimInstance -ClassName Win32_ComputerSystem
$cpu = @(Get-CimInstance -ClassName Win32_Processor)
$disks = @(Get-CimInstance -ClassName Win32_LogicalDisk -Filter 'DriveType=3')
$ports = @()
try {
  $ports = @(Get-NetTCPConnection -State Listen -ErrorAction Stop |
    Select-Object -ExpandProperty LocalPort -Unique)
} catch { }
$root = 'HKLM:\SOFTWARE\Microsoft\Microsoft SQL Server'
$names = Get-ItemProperty -Path ($root + '\Instance Names\SQL') -ErrorAction SilentlyContinue
$sql = @()
foreach ($svc in @(Get-CimInstance -ClassName Win32_Service -Filter "Name='MSSQLSERVER' OR Name LIKE 'MSSQL$%'")) {
  $instance = if ($svc.Name -eq 'MSSQLSERVER') { 'MSSQLSERVER' } else { $svc.Name.Substring(6) }
  $entry = [ordered]@{
    name = $instance; state = $svc.State; start_mode = $svc.StartMode
    version = $null; edition = $null; port = $null
  }
  if ($names -and $names.$instance) {
    $key = $root + '\' + $names.$instance
    $setup = Get-ItemProperty -Path ($key + '\Setup') -ErrorAction SilentlyContinue
    if ($setup) { $entry.version = $setup.Version; $entry.edition = $setup.Edition }
    $tcp = Get-ItemProperty -Path ($key + '\MSSQLServer\SuperSocketNetLib\Tcp\IPAll') -ErrorAction SilentlyContinue
    if ($tcp) { $entry.port = (@($tcp.TcpPort, $tcp.TcpDynamicPorts) | Where-Object { $_ } | Select-Object -First 1) }
  }
  $sql += [pscustomobject]$entry
}
[pscustomobject][ordered]@{
  oslomig = 1
  computer_name = $env:COMPUTERNAME
  domain = $cs.Domain
  caption = $os.Caption
  version = $os.Version
  build = $os.BuildNumber
  manufacturer = $cs.Manufacturer
  model = $cs.Model
  logical_processors = ($cpu | Measure-Object -Property NumberOfLogicalProcessors -Sum).Sum
  memory_bytes = $cs.TotalPhysicalMemory
  disks = @($disks | ForEach-Object {
    [pscustomobject][ordered]@{ mount = $_.DeviceID; size = $_.Size; free = $_.FreeSpace; fstype = $_.FileSystem }
  })
  listening_ports = @($ports | Sort-Object)
  sql_instances = @($sql)
} | ConvertTo-Json -Depth 4 -Compress
"""

VIRTUAL = re.compile(r"virtual|vmware|kvm|qemu|xen|hyper-v|openstack|amazon ec2|google compute", re.IGNORECASE)


def command() -> str:
    """The one command line sent over SSH."""
    encoded = base64.b64encode(SCRIPT.strip().encode("utf-16-le")).decode("ascii")
    return f"powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand {encoded}"


def _as_list(value) -> list:
    """An array as Windows PowerShell 5.1's ConvertTo-Json may write it: the element alone for one, null for none,
    or, for an array the extended type system wrapped, `{"value": [...], "Count": n}`."""
    if value is None:
        return []
    if isinstance(value, dict) and isinstance(value.get("value"), list) and "Count" in value:
        return value["value"]
    return value if isinstance(value, list) else [value]


def _port(value) -> int | None:
    text = str(value or "").split(",")[0].strip()
    return int(text) if text.isdigit() and 1 <= int(text) <= 65535 else None


def windows_facts(name: str, address: str, text: str, db_ports: set[int]) -> dict:
    """The host (inventory format) from the script's JSON; ValueError with a sentence when it is not that JSON.
    Listening ports are kept when a database listens there: the well-known ones and each SQL instance's own."""
    start = text.find("{")
    try:
        data = json.loads(text[start:]) if start >= 0 else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("oslomig") != 1:
        raise ValueError("the PowerShell inventory command did not print its JSON document")
    caption = str(data.get("caption") or "").strip()
    disks = []
    for d in _as_list(data.get("disks")):
        if not isinstance(d, dict) or d.get("size") is None:
            continue  # a drive with no media
        disks.append(
            {
                "mount": str(d.get("mount")),
                "size_gb": round(int(d["size"]) / 1024**3, 2),
                **({"free_gb": round(int(d["free"]) / 1024**3, 2)} if d.get("free") is not None else {}),
                **({"fstype": str(d["fstype"])} if d.get("fstype") else {}),
            }
        )
    sql = []
    for s in _as_list(data.get("sql_instances")):
        if isinstance(s, dict) and s.get("name"):
            sql.append(
                {
                    k: v
                    for k, v in {
                        "name": str(s["name"]),
                        "version": s.get("version"),
                        "edition": s.get("edition"),
                        "port": _port(s.get("port")),
                        "state": s.get("state"),
                    }.items()
                    if v is not None
                }
            )
    model = f"{data.get('manufacturer') or ''} {data.get('model') or ''}"
    memory = data.get("memory_bytes")
    cpus = data.get("logical_processors")
    host = {
        "name": name,
        "os": "windows",
        "os_version": (f"{caption} ({data['version']})" if caption and data.get("version") else caption) or None,
        "vm": bool(VIRTUAL.search(model)) if model.strip() else None,
        "cpu_count": int(cpus) if isinstance(cpus, int) else None,
        "memory_gb": round(int(memory) / 1024**3, 2) if isinstance(memory, int) else None,
        "disks": sorted(disks, key=lambda d: d["mount"]),
        "listening_ports": sorted(
            {
                p
                for p in map(_port, _as_list(data.get("listening_ports")))
                if p in db_ports | {s.get("port") for s in sql}
            }
        ),
        "sql_instances": sorted(sql, key=lambda s: s["name"]),
    }
    domain = str(data.get("domain") or "")
    computer = str(data.get("computer_name") or "").lower()
    if not re.match(r"^\d+\.\d+\.\d+\.\d+$|^\[?[0-9a-f:]+\]?$", address):
        host["fqdn"] = address
    elif computer and "." in domain:
        host["fqdn"] = f"{computer}.{domain.lower()}"
    return {k: v for k, v in host.items() if v is not None}
