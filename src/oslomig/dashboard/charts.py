"""The dashboard's pictures, drawn by matplotlib without a browser: the burn-up and the progress bars as inline SVG
for the page, and the 1200 × 630 cover picture as PNG. Same data, same bytes: no dates or random ids in the files."""

from __future__ import annotations

import datetime as dt
import io

COLOURS = {
    "migrated": "#2e7d32",
    "announced": "#1565c0",
    "scheduled": "#90caf9",
    "unscheduled": "#c62828",
    "planned": "#6d6d6d",
    "forecast": "#1565c0",
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.hashsalt": "oslomig",  # stable element ids
            "svg.fonttype": "none",  # text stays text: small, searchable, æøå as characters
            "font.family": "DejaVu Sans",
            "font.size": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    return plt


def plain(text: str) -> str:
    """A label from the data as matplotlib shows it literally: `$` would start mathtext."""
    return text.replace("\\", "\\\\").replace("$", r"\$")


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and DOCTYPE: the SVG goes inline


def _draw_burnup(ax, burnup: dict, today: dt.date, words: dict, lw: float = 2.0) -> None:
    weeks = [dt.date.fromisoformat(w) for w in burnup["weeks"]]
    for key, style in (("planned", "--"), ("forecast", ":")):
        ax.plot(weeks, burnup[key], style, color=COLOURS[key], lw=lw, label=words[key])
    shown = [(w, v) for w, v in zip(weeks, burnup["actual"]) if v is not None]
    if shown:
        xs, ys = zip(*shown)
        ax.plot(xs, ys, "-", color=COLOURS["migrated"], lw=lw * 1.5, label=words["actual"])
    ax.axvline(today, color="#000000", lw=0.8, alpha=0.6)
    top = max([burnup["total"], 1])
    ax.text(today, top * 0.02, " " + words["today"], fontsize=9, va="bottom")
    ax.set_ylim(0, top * 1.1)
    ax.axhline(burnup["total"], color="#999999", lw=0.6)
    ax.legend(loc="upper left", frameon=False, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    import matplotlib.dates as mdates

    ax.xaxis.set_major_locator(mdates.MonthLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))


def burnup_svg(data: dict, words: dict) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    _draw_burnup(ax, data["burnup"], dt.date.fromisoformat(data["today"]), words)
    ax.set_ylabel(words["databases"])
    svg = _svg(fig)
    plt.close(fig)
    return svg


def cover_png(data: dict, words: dict) -> bytes:
    """1200 × 630: the headline numbers large on the left, the burn-up on the right, legible as a small cover."""
    plt = _pyplot()
    fig = plt.figure(figsize=(12, 6.3), dpi=100)
    fig.patch.set_facecolor("#ffffff")
    total = data["total"]["databases"]
    done = total["migrated"]
    pct = 100 * done / total["total"] if total["total"] else 0.0
    fig.text(0.03, 0.90, f"{words['title']} {words['week']} {data['week'][-2:]}", fontsize=30, weight="bold")
    fig.text(0.03, 0.84, f"{words['as_of']} {data['today']}", fontsize=16, color="#444444")
    lines = [
        (
            f"{done:,} {words['of']} {total['total']:,}".replace(",", " "),
            f"{words['databases'].lower()} {words['migrated']}",
        ),
        (f"{pct:.0f} %", words["done_pct"]),
        (str(total["announced"]), f"{words['databases'].lower()} {words['announced']}"),
        (str(len(data["failed"])), f"{words['failed']} / {words['postponed']}"),
    ]
    if data.get("shares"):
        sh = data["shares"]
        lines.append((f"{sh['safe_to_delete']} {words['of']} {len(sh['shares'])}", words["safe_shares"]))
    y = 0.70
    for big, small in lines:
        fig.text(0.03, y, big, fontsize=30, weight="bold", color="#1b1b1b")
        fig.text(0.03, y - 0.055, small, fontsize=15, color="#444444")
        y -= 0.14
    ax = fig.add_axes((0.42, 0.12, 0.55, 0.68))
    _draw_burnup(ax, data["burnup"], dt.date.fromisoformat(data["today"]), words, lw=3.0)
    ax.tick_params(labelsize=13)
    ax.legend(loc="upper left", frameon=False, fontsize=14)
    ax.set_title(words["burnup"], fontsize=18, loc="left")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def warm() -> None:
    """Import matplotlib and load its fonts (most of a second) ahead of the drawing, in the chart process."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([dt.date(2021, 1, 4), dt.date(2021, 2, 1)], [0, 1], label="æøå")
    ax.legend()
    for fmt in ("svg", "png"):
        fig.savefig(io.BytesIO(), format=fmt)
    plt.close(fig)


def draw(data: dict) -> tuple[str, bytes]:
    """The page's burn-up (SVG) and the cover picture (PNG) of one status."""
    from oslomig.dashboard.words import WORDS

    words = WORDS[data["lang"]]
    return burnup_svg(data, words), cover_png(data, words)
