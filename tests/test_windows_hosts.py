"""Windows hosts in `inventory scan` (SPEC §4): the PowerShell command and the parsing of what it prints.

PowerShell and Windows cannot run here: the command text is checked (it decodes to the script, fits cmd.exe's
command line, uses only cmdlets and classes that Windows PowerShell 5.1 and PowerShell 7 both have), and the
parsing runs on recordings shaped as Windows Server 2019 and 2022 print them (tests/cases/windows; the shapes follow
Microsoft's documentation of the CIM classes and the quirks of ConvertTo-Json in 5.1). The host-target detection
and a target wrongly marked `os: windows` run against the real OpenSSH server of the other tests."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import CASES, run_cli

from oslomig.models import Host
from oslomig.scanning.connectors import DB_PORTS
from oslomig.scanning.windows import SCRIPT, command, windows_facts

RECORDED = CASES / "windows"


def test_the_command_is_the_script_encoded_for_any_default_shell():
    line = command()
    m = re.fullmatch(r"powershell\.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand "
                     r"([A-Za-z0-9+/=]+)", line)  # fmt: skip
    assert m, line
    assert base64.b64decode(m[1]).decode("utf-16-le") == SCRIPT.strip()
    assert len(line) < 8191, "cmd.exe (the default shell of Windows OpenSSH) cuts command lines at 8191 characters"
    # nothing a shell would read: no quotes, no spaces, no % or ^ in what follows powershell.exe's own switches
    assert not re.search(r"[\"'%^&|<> ]", m[1])


def test_the_script_uses_what_both_powershells_have_and_prints_one_json_document():
    # Get-WmiObject is gone from PowerShell 7; CIM is in both
    assert "Get-WmiObject" not in SCRIPT and "gwmi" not in SCRIPT
    for cls in (
        "Win32_OperatingSystem",
        "Win32_ComputerSystem",
        "Win32_Processor",
        "Win32_LogicalDisk",
        "Win32_Service",
    ):
        assert f"Get-CimInstance -ClassName {cls}" in SCRIPT
    assert SCRIPT.strip().endswith("| ConvertTo-Json -Depth 4 -Compress")
    assert SCRIPT.count("ConvertTo-Json") == 1 and "Write-Host" not in SCRIPT
    # balanced braces, brackets and parentheses outside strings: a cut or mangled script would not be
    depth = {"{": 0, "(": 0, "[": 0}
    closing = {"}": "{", ")": "(", "]": "["}
    quote = None
    for ch in SCRIPT:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in depth:
            depth[ch] += 1
        elif ch in closing:
            depth[closing[ch]] -= 1
            assert depth[closing[ch]] >= 0
    assert quote is None and set(depth.values()) == {0}
    # every key the parser reads is one the script writes
    for key in ("computer_name", "domain", "caption", "version", "manufacturer", "model", "logical_processors",
                "memory_bytes", "disks", "listening_ports", "sql_instances", "oslomig"):  # fmt: skip
        assert re.search(rf"\b{key} = ", SCRIPT), key


def facts(name: str) -> dict:
    return windows_facts("sqlhost", "10.1.2.3", (RECORDED / name).read_text(encoding="utf-8"), DB_PORTS)


def test_windows_server_2019_on_vmware_with_the_default_instance():
    host = facts("server2019-vmware-one-instance.json")
    assert host == {
        "name": "sqlhost",
        "os": "windows",
        "os_version": "Microsoft Windows Server 2019 Standard (10.0.17763)",
        "vm": True,
        "cpu_count": 8,
        "memory_gb": 32.0,
        "disks": [
            {"mount": "C:", "size_gb": 100.0, "free_gb": 38.4, "fstype": "NTFS"},
            {"mount": "D:", "size_gb": 500.0, "free_gb": 120.0, "fstype": "NTFS"},
            {"mount": "L:", "size_gb": 200.0, "free_gb": 187.5, "fstype": "ReFS"},
        ],
        "listening_ports": [1433],  # the "value"/"Count" wrapping of 5.1 undone; RDP and WinRM are not databases
        "sql_instances": [
            {
                "name": "MSSQLSERVER",
                "version": "15.0.4312.2",
                "edition": "Standard Edition (64-bit)",
                "port": 1433,
                "state": "Running",
            }  # fmt: skip
        ],
        "fqdn": "sqlp07.oslo.kommune.no",
    }
    Host.model_validate(host)  # the inventory format takes it


def test_windows_server_2022_on_hyperv_with_named_instances_on_dynamic_ports():
    host = facts("server2022-hyperv-named-instances.json")
    assert host["vm"] is True and host["cpu_count"] == 4 and host["memory_gb"] == 16.0
    assert [d["mount"] for d in host["disks"]] == ["C:", "E:"]  # X: has no media
    assert host["disks"][1] == {"mount": "E:", "size_gb": 1024.0, "fstype": "NTFS"}
    assert [(s["name"], s.get("port"), s["state"]) for s in host["sql_instances"]] == [
        ("APP", 52433, "Running"),
        ("REPORTING", 52434, "Stopped"),
        ("SQLEXPRESS", None, "Running"),
    ]
    # SQL Browser (1434) and each instance's own port; not RPC, SMB, RDP or WinRM
    assert host["listening_ports"] == [1434, 52433, 52434]
    Host.model_validate(host)


def test_a_file_server_with_one_disk_and_no_sql_server():
    host = windows_facts("filsrv01", "filsrv01.oslo.kommune.no",
                         (RECORDED / "server2022-no-sql.json").read_text(encoding="utf-8"), DB_PORTS)  # fmt: skip
    assert host["vm"] is False and host["fqdn"] == "filsrv01.oslo.kommune.no"
    assert host["disks"] == [{"mount": "C:", "size_gb": 446.62, "free_gb": 279.4, "fstype": "NTFS"}]
    assert "sql_instances" in host and host["sql_instances"] == [] and host["listening_ports"] == []


@pytest.mark.parametrize(
    "text",
    ["", "powershell.exe : The term is not recognized", '{"a": 1}', "[1, 2]", '{"oslomig": 1, "disks": ['],
)
def test_anything_else_is_a_sentence_not_a_crash(text):
    with pytest.raises(ValueError, match="did not print its JSON document"):
        windows_facts("h", "10.0.0.1", text, DB_PORTS)


def test_a_posix_host_is_detected_and_a_wrong_os_windows_is_one_sentence(ssh_server, tmp_path):
    def targets(extra: str) -> Path:
        path = tmp_path / "targets.yaml"
        path.write_text(f"""kind: scan-targets
hosts:
  - name: box
    host: 127.0.0.1
    port: {ssh_server.port}
    username: {ssh_server.user}
    key_file: {ssh_server.key_file}
    known_hosts: {ssh_server.known_hosts}
    timeout_s: 15
{extra}""")
        return path

    out = tmp_path / "inv"
    proc = run_cli("inventory", "scan", "--targets", str(targets("")), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    host = yaml.safe_load((out / "scanned" / "hosts-box.yaml").read_text())["hosts"][0]
    assert host["os"] == "linux" and "sql_instances" not in host
    proc = run_cli("inventory", "scan", "--targets", str(targets("    os: windows\n")), "--out", str(out))
    assert proc.returncode == 1
    assert "powershell.exe is not there; is it a Windows server?" in proc.stderr and "Traceback" not in proc.stderr
    assert json.dumps(host)  # the earlier file stays as it was
    assert yaml.safe_load((out / "scanned" / "hosts-box.yaml").read_text())["hosts"][0] == host


@pytest.mark.parametrize(
    ("out", "status", "expected"),
    [
        (b"Linux\n", 0, "posix"),
        (b"AIX\n", 0, "posix"),
        (b"", 1, "windows"),  # cmd.exe: 'uname' is not recognized as an internal or external command
        (b"", 255, "windows"),
        (b"MINGW64_NT-10.0-17763\n", 0, "windows"),  # Git for Windows on the server's PATH
        (b"CYGWIN_NT-10.0\n", 0, "windows"),
    ],
)
def test_which_os_the_host_runs(out, status, expected):
    from oslomig.scanning.connectors import _which_os

    class Stream:
        def __init__(self, data: bytes):
            self.data, self.channel = data, self

        def read(self) -> bytes:
            return self.data

        def recv_exit_status(self) -> int:
            return status

    class Client:
        def exec_command(self, command, timeout=None):
            assert command == "uname -s"
            return None, Stream(out), Stream(b"")

    assert _which_os(Client(), 5) == expected
