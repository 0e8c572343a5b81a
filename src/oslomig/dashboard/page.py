"""The status page: one self-contained HTML file from a Jinja2 template, autoescaped (system, contact and share
names are data, never markup); the charts are matplotlib's SVG, inline."""

from __future__ import annotations

from pathlib import Path

from oslomig.dashboard.words import WORDS

TEMPLATES = Path(__file__).parent / "templates"


def number(value, lang: str) -> str:
    """1 349 and 12,5 in bokmål (a no-break space between thousands, a decimal comma); 1,349 and 12.5 in English."""
    if isinstance(value, float) and not value.is_integer():
        text = f"{value:,.1f}"
    else:
        text = f"{int(value):,}"
    if lang == "nb":
        text = text.replace(",", "\u00a0").replace(".", ",")
    return text


def size(n: int, lang: str) -> str:
    """Bytes for people: 53,1 kB, 1,2 GB (decimal units, as SharePoint's storage figures)."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            break
        value /= 1000
    text = f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
    return text.replace(".", ",") if lang == "nb" else text


BAR_STATES = ("migrated", "announced", "scheduled", "unscheduled")
BAR_LEFT, BAR_WIDTH, BAR_ROW = 250, 500, 22


def agency_bars(data: dict, words: dict) -> dict:
    """Databases per agency stacked by state, as rectangles for a small inline SVG in the template (drawn there,
    so the names are escaped like every other text)."""
    from oslomig.dashboard.charts import COLOURS

    per: dict[str, dict[str, int]] = {}
    for row in data["progress"]:
        counts = per.setdefault(row["agency_name"] or words["no_agency"], dict.fromkeys(BAR_STATES, 0))
        for state in BAR_STATES:
            counts[state] += row["databases"][state]
    widest = max([sum(c.values()) for c in per.values()] + [1])
    rows = []
    for i, name in enumerate(sorted(per)):
        x, segments = float(BAR_LEFT), []
        for state in BAR_STATES:
            n = per[name][state]
            if n:
                w = BAR_WIDTH * n / widest
                segments.append(
                    {"x": round(x, 2), "w": round(w, 2), "fill": COLOURS[state], "title": f"{words[state]}: {n}"}
                )
                x += w
        rows.append({"name": name, "y": i * BAR_ROW, "segments": segments, "total": sum(per[name].values()), "end": x})
    return {"rows": rows, "height": len(rows) * BAR_ROW + 4, "width": BAR_LEFT + BAR_WIDTH + 60}


def render(data: dict, burnup_svg: str) -> str:
    """The page; `burnup_svg` is matplotlib's drawing of the burn-up (charts.draw)."""
    import jinja2
    from markupsafe import Markup

    lang = data["lang"]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["num"] = lambda v: number(v, lang)
    env.filters["size"] = lambda v: size(v, lang)
    words = WORDS[lang]
    template = env.get_template("status.html.j2")
    return template.render(
        d=data,
        w=words,
        burnup_svg=Markup(burnup_svg),  # drawn by matplotlib, which escapes every text it writes
        bars=agency_bars(data, words),
    )
