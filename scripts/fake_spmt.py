"""A fabricated SPMT item report (ItemReport_R1.csv) for a staging tree, as SPMT would write it after copying
every staging root whole: the demo and the tests use it in place of a real SharePoint Migration Tool run.

Columns as in Microsoft's "Using the SharePoint Migration Tool reports": one row per folder and file, Source the
UNC path SPMT read, Destination the URL it wrote, Status `Migrated`.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

COLUMNS = [
    "Source",
    "Destination",
    "Item name",
    "Extension",
    "Item size (bytes)",
    "Content type",
    "Status",
    "Result category",
    "Message",
    "Error code",
    "Incremental round",
    "Task ID",
    "Device name",
]


def item_rows(spmt_json: Path, staging_dir: Path, unc_base: str):
    """Rows for every folder and file under the staging roots of `spmt.json` tasks that start with `unc_base`
    (the UNC path of `staging_dir`)."""
    tasks = json.loads(spmt_json.read_text(encoding="utf-8"))["Tasks"]
    for n, task in enumerate(tasks, start=1):
        source = task["SourcePath"]
        if not source.lower().startswith(unc_base.lower() + "\\"):
            continue
        root = staging_dir / source[len(unc_base) + 1 :]
        library = "Shared Documents" if task["TargetList"] == "Documents" else task["TargetList"]
        dest_root = "/".join(p for p in (task["TargetPath"].rstrip("/"), library, task["TargetListRelativePath"]) if p)
        for top, dirs, files in sorted(os.walk(root)):
            dirs.sort()
            rel_top = Path(top).relative_to(root).as_posix()
            rel_top = "" if rel_top == "." else rel_top
            for name in sorted(dirs) + sorted(files):
                rel = f"{rel_top}/{name}" if rel_top else name
                full = Path(top) / name
                is_dir = name in dirs
                yield [
                    source + "\\" + rel.replace("/", "\\"),
                    f"{dest_root}/{rel}",
                    name,
                    "" if is_dir else (Path(name).suffix.lstrip(".") if "." in name else ""),
                    "" if is_dir else str(full.stat().st_size),
                    "Folder" if is_dir else "File",
                    "Migrated",
                    "",
                    "",
                    "",
                    "1",
                    f"T{n}",
                    "MIGSRV01",
                ]


def write_report(path: Path, rows) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        w = csv.writer(handle)
        w.writerow(COLUMNS)
        for row in rows:
            w.writerow(row)
            n += 1
    return n
