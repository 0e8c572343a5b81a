"""The manifest.csv format (SPEC §5): its columns, its time format, and reading it back for stage and verify."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from oslomig.errors import OslomigError

MANIFEST_COLUMNS = [
    "share",
    "source_path",
    "size_bytes",
    "modified",
    "action",
    "reasons",
    "target_site",
    "target_library",
    "target_path",
]


def iso_time(ts: float, tz) -> str:
    """`modified` as the manifest writes it: local time of the plan's zone, to the second."""
    return dt.datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds") if ts else ""


_DAY = 86_400
_FAST_UNTIL = 253_402_214_400  # 9999-12-31T00:00Z: the years numpy and datetime both write with four digits


class IsoTimes:
    """`iso_time` for a column of timestamps at once, the same text byte for byte.

    numpy turns the seconds into text; the zone's offset is looked up once per UTC day (a day whose offset is the
    same at its first and last second has it all day). Days with a change of offset, times before 1970 or after
    9998 and zero go through `iso_time` one by one."""

    def __init__(self, tz):
        self.tz = tz
        self._suffix: dict[int, str | None] = {}  # UTC day -> the offset as isoformat writes it; None: mixed day

    def _day_suffix(self, day: int) -> str | None:
        first = dt.datetime.fromtimestamp(day * _DAY, self.tz)
        last = dt.datetime.fromtimestamp(day * _DAY + _DAY - 1, self.tz)
        return first.isoformat()[19:] if first.utcoffset() == last.utcoffset() else None

    def __call__(self, mtimes: list[float]) -> list[str]:
        import numpy as np

        a = np.asarray(mtimes, dtype=np.float64)
        # whole seconds as datetime.fromtimestamp rounds: the fraction to microseconds, half to even, then truncated
        whole = np.trunc(a)
        micro = np.rint((a - whole) * 1e6)
        secs = whole.astype(np.int64) + (micro >= 1e6) - (micro < 0)
        days, which = np.unique(secs // _DAY, return_inverse=True)
        suffix = self._suffix
        found = []
        for day in days.tolist():
            if day not in suffix:
                suffix[day] = self._day_suffix(day) if 0 <= day * _DAY < _FAST_UNTIL else None
            found.append(suffix[day])
        offset = np.array([0 if f is None else _offset_seconds(f) for f in found], dtype=np.int64)
        local = secs + offset[which]
        ends = [f or "+00:00" for f in found]  # a mixed day's rows are written one by one below
        if all(len(e) == 6 for e in ends) and local.max() < _YEAR_10000:
            out = _iso_text(local, np.frombuffer("".join(ends).encode("ascii"), dtype=np.uint8).reshape(-1, 6)[which])
        else:  # an offset with seconds (local mean time before 1900), a year past 9999
            text = np.datetime_as_string(local.astype("datetime64[s]"), unit="s").tolist()
            out = [t + ends[k] for t, k in zip(text, which.tolist(), strict=True)]
        if None in found or 0.0 in mtimes:  # the rare rows: mixed days, far times, zero
            for i in np.flatnonzero(np.array([f is None for f in found])[which] | (a == 0)).tolist():
                out[i] = iso_time(mtimes[i], self.tz)
        return out


_YEAR_10000 = 253_402_300_800  # 10000-01-01T00:00:00 as seconds of local time


def _iso_text(local, suffixes) -> list[str]:
    """'YYYY-MM-DDTHH:MM:SS' of each local time (seconds since 1970, before year 10000) and its 6-character
    offset, written digit by digit over whole columns: numpy's datetime_as_string and a join per row cost three
    times as much. The date is H. Hinnant's days-to-civil algorithm (proleptic Gregorian, as datetime)."""
    import numpy as np

    days, seconds = np.divmod(local, 86_400)
    z = days + 719_468  # days since 0000-03-01
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + np.where(mp < 10, 3, -9)
    fields = [
        (0, 4, yoe + era * 400 + (month <= 2)),
        (5, 2, month),
        (8, 2, doy - (153 * mp + 2) // 5 + 1),
        (11, 2, seconds // 3_600),
        (14, 2, seconds // 60 % 60),
        (17, 2, seconds % 60),
    ]
    buf = np.empty((len(local), 26), dtype=np.uint8)
    for at, width, value in fields:
        for k in range(width - 1, -1, -1):
            buf[:, at + k] = 48 + value % 10
            value = value // 10
    buf[:, [4, 7]] = ord("-")
    buf[:, 10] = ord("T")
    buf[:, [13, 16]] = ord(":")
    buf[:, 19:25] = suffixes
    buf[:, 25] = 0
    return buf.tobytes().decode("ascii").split("\0")[:-1]


def _offset_seconds(suffix: str) -> int:
    """'+01:00' or '-03:30' or '+00:53:28' -> seconds east of UTC."""
    sign = -1 if suffix[0] == "-" else 1
    parts = [int(x) for x in suffix[1:].split(":")]
    return sign * (parts[0] * 3600 + parts[1] * 60 + (parts[2] if len(parts) > 2 else 0))


def read_rows(path: Path, shares: set[str]) -> Iterator[tuple[int, list[str]]]:
    """(line, row) for each row of the given shares; a file that is not a whole manifest is an error."""
    if not path.is_file():
        raise OslomigError(f"no manifest at {path}; run `oslomig share manifest` first")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            if next(reader, None) != MANIFEST_COLUMNS:
                raise OslomigError(f"{path}: not a manifest written by `oslomig share manifest` (the header differs)")
            for row in reader:
                if len(row) != len(MANIFEST_COLUMNS):
                    raise OslomigError(
                        f"{path}:{reader.line_num}: {len(row)} fields, expected {len(MANIFEST_COLUMNS)} "
                        "(an edited or truncated manifest); run `oslomig share manifest` again"
                    )
                if row[0] in shares:
                    yield reader.line_num, row
        except csv.Error as exc:
            raise OslomigError(f"{path}:{reader.line_num}: {exc}; run `oslomig share manifest` again") from None
