"""Owner notices (SPEC §3): one text per scheduled group, system and contact; a CSV for the
customer portal; an .ics with one event per group (stable UIDs, so a re-import updates)."""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from oslomig import csvout
from oslomig.loading import Inventory
from oslomig.models import DatabasePlan

WEEKDAY = {
    "nb": ["mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"],
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
}
MONTH = {
    "nb": [
        "januar",
        "februar",
        "mars",
        "april",
        "mai",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "desember",
    ],
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
}
RULE = {
    "nb": {
        "instance": "samme instans",
        "host": "samme server",
        "cluster": "samme klynge",
        "availability_group": "samme tilgjengelighetsgruppe",
        "links": "databaselenker",
        "systems": "samme system",
    },
    "en": {
        "instance": "the same instance",
        "host": "the same server",
        "cluster": "the same cluster",
        "availability_group": "the same availability group",
        "links": "database links",
        "systems": "the same system",
    },
}

TEMPLATE = {
    "nb": """Emne: Planlagt nedetid for {system_name} {day}

Hei {contact},

{system_name} ({system_id}) flyttes til nytt datasenter. Systemet vil være utilgjengelig i dette tidsrommet:

  Fra: {start}
  Til: {end}
  Forventet nedetid: ca. {hours} timer innenfor vinduet

Berørte databaser:
{databases}

Berørte servere:
{hosts}

Databasene flyttes samlet fordi de deler {bound}. Flyttegruppe: {group}.
Varselet skal publiseres i kundeportalen senest {publish_by}.

Spørsmål om tidspunktet kan rettes til migreringsprosjektet.

Med vennlig hilsen
Migreringsprosjektet ({plan})
""",
    "en": """Subject: Planned downtime for {system_name} {day}

Dear {contact},

{system_name} ({system_id}) is moving to the new data centre. The system will be unavailable during:

  From: {start}
  To:   {end}
  Expected downtime: about {hours} hours within the window

Databases affected:
{databases}

Servers affected:
{hosts}

The databases move together because they share {bound}. Migration group: {group}.
This notice must be published in the customer portal by {publish_by}.

Questions about the timing go to the migration project.

Kind regards
The migration project ({plan})
""",
}


def human_time(value: dt.datetime, lang: str) -> str:
    if lang == "nb":
        return (
            f"{WEEKDAY['nb'][value.weekday()]} {value.day}. {MONTH['nb'][value.month - 1]} {value.year} kl. "
            f"{value:%H:%M}"
        )
    return f"{WEEKDAY['en'][value.weekday()]} {value.day} {MONTH['en'][value.month - 1]} {value.year}, {value:%H:%M}"


def human_day(value: dt.date, lang: str) -> str:
    if lang == "nb":
        return f"{value.day}. {MONTH['nb'][value.month - 1]} {value.year}"
    return f"{value.day} {MONTH['en'][value.month - 1]} {value.year}"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


@dataclass
class Notice:
    id: str
    group: str
    system: str
    system_name: str
    contact_name: str
    contact_email: str
    window: str
    start: dt.datetime
    end: dt.datetime
    hours: float
    publish_by: dt.date
    databases: list[str]
    hosts: list[str]
    text: str

    @property
    def filename(self) -> str:
        from oslomig.safenames import safe_component

        return safe_component(self.id, 200) + ".txt"


def build_notices(plan: DatabasePlan, inv: Inventory, schedule, lang: str = "nb") -> list[Notice]:
    tz = ZoneInfo(plan.timezone)
    notices = []
    for a in schedule.assignments:
        g = a.group
        start, end = a.occurrence.start.astimezone(tz), a.occurrence.end.astimezone(tz)
        publish_by = start.date() - dt.timedelta(days=plan.notice_days)
        rules = sorted({b["rule"] for b in g.bound_by})
        bound = ", ".join(RULE[lang].get(r, r) for r in rules) or (
            "ingen andre databaser" if lang == "nb" else "nothing with other databases"
        )
        hours = f"{g.estimated_hours:.1f}".replace(".", ",") if lang == "nb" else f"{g.estimated_hours:.1f}"
        for sid in g.systems:
            system = inv.systems[sid]
            own = [d for d in g.databases if inv.owner.get(d) == sid]
            contacts = system.contacts or (
                inv.agencies[system.agency].contacts if system.agency in inv.agencies else []
            )
            for c in contacts:
                nid = f"{start:%Y%m%d}-{g.id}-{sid}-{slug(c.email)}"
                text = TEMPLATE[lang].format(
                    system_name=system.name or sid,
                    system_id=sid,
                    day=human_day(start.date(), lang),
                    contact=c.name,
                    start=human_time(start, lang),
                    end=human_time(end, lang),
                    hours=hours,
                    databases="\n".join(f"  - {d}" for d in own)
                    + (
                        ""
                        if own == g.databases
                        else "\n"
                        + ("  (og i samme vindu: " if lang == "nb" else "  (and in the same window: ")
                        + ", ".join(d for d in g.databases if d not in own)
                        + ")"
                    ),
                    hosts="\n".join(f"  - {h}" for h in g.hosts),
                    bound=bound,
                    group=g.id,
                    publish_by=human_day(publish_by, lang),
                    plan=plan.name,
                )
                notices.append(
                    Notice(
                        nid,
                        g.id,
                        sid,
                        system.name or sid,
                        c.name,
                        c.email,
                        a.occurrence.window,
                        start,
                        end,
                        g.estimated_hours,
                        publish_by,
                        own,
                        g.hosts,
                        text,
                    )
                )
    notices.sort(key=lambda n: n.id)
    return notices


def notices_csv(notices: list[Notice]) -> str:
    buf = io.StringIO()
    w = csvout.writer(buf)
    w.writerow(
        [
            "notice_id",
            "group",
            "system",
            "system_name",
            "contact_name",
            "contact_email",
            "window",
            "start",
            "end",
            "downtime_hours",
            "publish_by",
            "databases",
            "hosts",
            "file",
        ]
    )
    for n in notices:
        w.writerow(
            [
                n.id,
                n.group,
                n.system,
                n.system_name,
                n.contact_name,
                n.contact_email,
                n.window,
                n.start.isoformat(),
                n.end.isoformat(),
                f"{n.hours:.2f}",
                n.publish_by.isoformat(),
                ";".join(n.databases),
                ";".join(n.hosts),
                n.filename,
            ]
        )
    return buf.getvalue()
