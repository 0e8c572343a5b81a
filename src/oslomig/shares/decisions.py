"""Contacts decide (SPEC §5.1): review lists out as XLSX and CSV, decisions back in.

A review list holds the manifest columns plus `decision` and `comment`. A returned list (the workbook as the contact
saved it from Excel, or the CSV twin) is read back by column name, so reordered columns are fine; a missing column,
a decision word we do not know, the same row decided twice with different words, or a file that is not a workbook
is reported with the file and row, never guessed at and never silently applied.

Accepted decision words (case and surrounding spaces ignored): `migrate`, `flytt`, `migrer` -> migrate;
`skip`, `ikke flytt`, `hopp over` -> skip. An empty cell is "not decided yet".
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from oslomig.atomic import atomic_open, write_bytes
from oslomig.shares.manifestcsv import MANIFEST_COLUMNS

REVIEW_COLUMNS = [*MANIFEST_COLUMNS, "decision", "comment"]
REQUIRED = ("share", "source_path", "size_bytes", "modified", "decision")
WORDS = {
    "migrate": "migrate",
    "flytt": "migrate",
    "migrer": "migrate",
    "skip": "skip",
    "ikke flytt": "skip",
    "hopp over": "skip",
}
DATA_SHEET = "Filer"
_CREATED = dt.datetime(2000, 1, 1)  # a fixed creation time: the same inputs give the same workbook bytes
HELP_SHEET = "Slik gjør du"


@dataclass
class Decision:
    action: str
    size: str
    modified: str
    comment: str
    where: str  # "file:row" for messages


@dataclass
class Decisions:
    by_row: dict[tuple[str, str], Decision] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # a returned file that could not be read at all
    files: int = 0


def normalise(word: object) -> str | None:
    """'migrate' / 'skip', '' for undecided, None for a word we do not know."""
    text = " ".join(str(word or "").split()).casefold()
    if not text:
        return ""
    return WORDS.get(text)


def read_decisions(directory: Path) -> Decisions:
    result = Decisions()
    seen: dict[tuple[str, str], tuple[str, str]] = {}  # key -> (action, where) of the first decision
    conflicted: set[tuple[str, str]] = set()
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in (".xlsx", ".csv"))
    files = [p for p in files if not p.name.startswith(("~$", "."))]  # Excel's lock files, editor temp files
    for path in files:
        result.files += 1
        try:
            rows = _read_xlsx(path) if path.suffix.lower() == ".xlsx" else _read_csv(path)
        except ValueError as exc:
            result.errors.append(f"{path}: {exc}")
            continue
        for line, row in rows:
            where = f"{path}:{line}"
            word = normalise(row.get("decision"))
            if word is None:
                result.warnings.append(f"{where}: decision {row.get('decision')!r} is not migrate or skip; not applied")
                continue
            if not word:
                continue
            key = (str(row.get("share") or ""), str(row.get("source_path") or ""))
            if key in seen and seen[key][0] != word:
                conflicted.add(key)
                result.warnings.append(
                    f"{where}: {key[1]} is decided {word!r} here and {seen[key][0]!r} at {seen[key][1]}; "
                    "neither is applied until one list says it"
                )
                continue
            seen.setdefault(key, (word, where))
            result.by_row[key] = Decision(
                word,
                str(row.get("size_bytes") or ""),
                str(row.get("modified") or ""),
                str(row.get("comment") or ""),
                where,
            )
    for key in conflicted:
        result.by_row.pop(key, None)
    return result


def _header(cells: list) -> dict[str, int]:
    names = [str(c).strip() if c is not None else "" for c in cells]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ValueError(
            f"the header has no {', '.join(missing)} column (columns renamed or deleted?); "
            f"expected the columns of a review list: {', '.join(REVIEW_COLUMNS)}"
        )
    return {name: i for i, name in enumerate(names) if name}


def _read_xlsx(path: Path) -> list[tuple[int, dict]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ValueError(f"not an Excel workbook that can be read ({type(exc).__name__}: {exc})") from None
    try:
        sheet = book[DATA_SHEET] if DATA_SHEET in book.sheetnames else book.worksheets[-1]
        rows = sheet.iter_rows(values_only=True)
        first = next(rows, None)
        if first is None:
            raise ValueError(f"sheet {sheet.title!r} is empty")
        columns = _header(list(first))
        out = []
        for line, values in enumerate(rows, start=2):
            if values is None or all(v in (None, "") for v in values):
                continue
            out.append((line, {name: values[i] if i < len(values) else None for name, i in columns.items()}))
        return out
    finally:
        book.close()


def _read_csv(path: Path) -> list[tuple[int, dict]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text; save the list as CSV UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        first = next(reader, None)
        if first is None:
            raise ValueError("the file is empty")
        columns = _header(first)
        out = []
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            row = {name: values[i] if i < len(values) else None for name, i in columns.items()}
            out.append((reader.line_num, row))
        return out
    except csv.Error as exc:
        raise ValueError(f"not a CSV file that can be read ({exc})") from None


# ------------------------------------------------------------------ writing the lists

HELP_NB = [
    "Gjennomgang før flytting til SharePoint",
    "",
    "Dette regnearket viser filene i fellesområdet som trenger en beslutning fra deg før flyttingen.",
    "Arket «Filer» har én rad per fil. Kolonnen «reasons» sier hvorfor filen må vurderes:",
    "  DUPLICATE – samme innhold finnes et annet sted;  STALE – ikke endret på mange år;",
    "  RESERVED_NAME, PATH_TOO_LONG, FILE_TOO_LARGE, NOT_UTF8 – navnet eller størrelsen passer ikke i SharePoint;",
    "  TARGET_COLLISION – en annen fil ville fått samme navn; den får nytt navn (vist i «target_path»);",
    "  UNREADABLE – filen kunne ikke leses;",
    "  OFFLINE – filen ligger i arkivet (bare en stubb på serveren); flyttes den, hentes den først tilbake;",
    "  SYSTEM_FILE – filen er merket som systemfil i Windows, og er sjelden et dokument.",
    "",
    "Slik gjør du:",
    "  1. Gå til arket «Filer».",
    "  2. Velg i kolonnen «decision» for hver rad: «migrate» (flytt filen) eller «skip» (ikke flytt).",
    "  3. Skriv gjerne en kort begrunnelse i «comment».",
    "  4. Ikke endre de andre kolonnene, og ikke gi arket nytt navn.",
    "  5. Lagre filen som Excel-arbeidsbok (.xlsx) og send den tilbake til migreringsteamet.",
    "",
    "Filer du ikke tar stilling til, blir stående i listen til neste runde.",
    "Viktig: det gamle fellesområdet slettes etter en periode. Det som ikke flyttes, blir borte.",
    "Er du i tvil, velg «migrate».",
]


def write_review_lists(out: Path, share_id: str, rows: list[list]) -> None:
    """review-<share>.xlsx (drop-down, frozen header, filters, widths, a help sheet in bokmål) and its CSV twin
    (UTF-8 with BOM, so Excel shows æøå)."""
    from oslomig import csvout
    from oslomig.safenames import safe_component

    name = safe_component(share_id)
    with atomic_open(out / f"review-{name}.csv", newline="", encoding="utf-8-sig") as handle:
        w = csvout.writer(handle)
        w.writerow(REVIEW_COLUMNS)
        w.writerows([*r, "", ""] for r in rows)
    write_bytes(out / f"review-{name}.xlsx", review_workbook(share_id, rows))


def review_workbook(share_id: str, rows: list[list]) -> bytes:
    """The review workbook. XlsxWriter lays it out (help sheet, header, formats, widths, drop-down, filter, frozen
    header); the data rows, tens of thousands in a big share, are then written into the sheet's XML directly as
    inline strings (XlsxWriter's per-cell calls cost ~70 µs a row; the same cells written here cost a few)."""
    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(
        buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
    )
    book.set_properties({"title": f"Gjennomgang: {share_id}", "author": "oslomig", "created": _CREATED})
    bold = book.add_format({"bold": True})
    title = book.add_format({"bold": True, "font_size": 14})
    help_sheet = book.add_worksheet(HELP_SHEET)
    help_sheet.set_column(0, 0, 110)
    for i, line in enumerate(HELP_NB):
        help_sheet.write_string(i, 0, line, title if i == 0 else None)
    help_sheet.write_string(len(HELP_NB) + 1, 0, f"Område: {share_id}", bold)
    help_sheet.write_string(len(HELP_NB) + 2, 0, f"Antall filer å vurdere: {len(rows)}")

    sheet = book.add_worksheet(DATA_SHEET)
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    decide = book.add_format({"bg_color": "#FFF2CC", "border": 1})
    for col, name in enumerate(REVIEW_COLUMNS):
        sheet.write_string(0, col, name, header)
    widths = [len(c) + 2 for c in REVIEW_COLUMNS]
    texts = [[str(v) for v in column] for column in zip(*rows)] if rows else []
    for col, column in enumerate(texts):
        if col != 2:  # sizes are numbers
            widths[col] = max(widths[col], min(max(map(len, column)) + 2, 60))
    # XlsxWriter writes the rows whose text has a control character or a literal _xHHHH_ (it escapes them into the
    # shared strings, which Excel reads back as they were and openpyxl as it always did), and the decision cells of
    # the first and last row (so it counts in the format and the sheet's extent); `_with_rows` writes the rest.
    escaped = set()
    for column in texts:
        if _NEEDS_SHARED.search("\n".join(column)):  # rare: then text by text
            escaped.update(r for r, text in enumerate(column, start=1) if _NEEDS_SHARED.search(text))
    for r in escaped:
        for col, value in enumerate(rows[r - 1]):
            if col == 2:
                sheet.write_number(r, col, int(value))
            else:
                sheet.write_string(r, col, str(value))
        sheet.write_blank(r, 9, None, decide)
        sheet.write_blank(r, 10, None, decide)
    if rows:
        sheet.write_blank(1, 9, None, decide)
        sheet.write_blank(len(rows), 10, None, decide)
    widths[9], widths[10] = 12, 40
    for col, width in enumerate(widths):
        sheet.set_column(col, col, width)
    last = max(len(rows), 1)
    sheet.data_validation(
        1,
        9,
        last,
        9,
        {
            "validate": "list",
            "source": ["migrate", "skip"],
            "input_title": "Beslutning",
            "input_message": "migrate = flytt filen, skip = ikke flytt",
            "error_title": "Ugyldig valg",
            "error_message": "Velg migrate eller skip fra listen.",
        },
    )
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, last, len(REVIEW_COLUMNS) - 1)
    sheet.activate()
    book.close()
    if not rows:
        return buf.getvalue()
    part = f"xl/worksheets/sheet{len(book.worksheets())}.xml"
    return _with_rows(buf.getvalue(), part, texts, escaped, decide.xf_index)


# text that must go through the shared strings: control characters, and literal _xHHHH_ (read back as an escape)
_NEEDS_SHARED = re.compile(r"[\x00-\x08\x0b-\x1f]|_x[0-9a-fA-F]{4}_")


def _inline(column: list[str]) -> list[str]:
    """Each text's `<is>` element (texts without control characters or literal _xHHHH_), as XlsxWriter writes an
    inline string: `&`, `<`, `>` as entities, leading or trailing white space preserved."""
    joined = "".join(column)
    if "&" in joined or "<" in joined or ">" in joined:
        column = [t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for t in column]
    return [
        f'<is><t xml:space="preserve">{t}</t></is>' if t[:1].isspace() or t[-1:].isspace() else f"<is><t>{t}</t></is>"
        for t in column
    ]


def _with_rows(xlsx: bytes, part: str, texts: list[list[str]], escaped: set[int], decide_style: int) -> bytes:
    """The workbook with the data rows (columns of texts, `size_bytes` a number) in `part`'s sheet data after the
    header row, each ending with the two decision cells in the `decide` style; the `escaped` rows (numbered from 1
    after the header) as XlsxWriter wrote them. Zip members keep their order, dates and compression, so the bytes
    stay the same for the same rows."""
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(xlsx))
    xml = source.read(part).decode("utf-8")
    start, end = xml.index("<sheetData>") + len("<sheetData>"), xml.index("</sheetData>")
    written = [row + "</row>" for row in xml[start:end].split("</row>")[:-1]]  # the header row, then by number
    by_number = {int(row[row.index('r="') + 3 : row.index('"', row.index('r="') + 3)]): row for row in written}
    cols = [[f"{int(v):.16G}" for v in column] if k == 2 else _inline(column) for k, column in enumerate(texts)]
    s, t = f' s="{decide_style}"/>', ' t="inlineStr">'
    rows = [written[0]]
    for n, (a, b, c, d, e, f, g, h, i) in enumerate(zip(*cols), start=2):
        if n - 1 in escaped:
            rows.append(by_number[n])
            continue
        rows.append(
            f'<row r="{n}" spans="1:11"><c r="A{n}"{t}{a}</c><c r="B{n}"{t}{b}</c><c r="C{n}"><v>{c}</v></c>'
            f'<c r="D{n}"{t}{d}</c><c r="E{n}"{t}{e}</c><c r="F{n}"{t}{f}</c><c r="G{n}"{t}{g}</c><c r="H{n}"{t}{h}</c>'
            f'<c r="I{n}"{t}{i}</c><c r="J{n}"{s}<c r="K{n}"{s}</row>'
        )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = (
                (xml[:start] + "".join(rows) + xml[end:]).encode("utf-8")
                if info.filename == part
                else source.read(info)
            )
            target.writestr(info, data)
    return out.getvalue()
