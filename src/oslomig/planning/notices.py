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
# why databases move together, as a clause: "De flyttes samlet fordi de ligger på samme server."
RULE = {
    "nb": {
        "instance": "ligger på samme instans",
        "host": "ligger på samme server",
        "cluster": "ligger i samme klynge",
        "availability_group": "er i samme tilgjengelighetsgruppe",
        "links": "er koblet sammen med databaselenker",
        "systems": "hører til samme system",
    },
    "en": {
        "instance": "share an instance",
        "host": "share a server",
        "cluster": "share a cluster",
        "availability_group": "are in the same availability group",
        "links": "are connected by database links",
        "systems": "belong to the same system",
    },
}
ENVIRONMENT = {
    "nb": {"prod": "produksjon", "test": "test", "staging": "staging", "dev": "utvikling", "qa": "kvalitetssikring"},
    "en": {"prod": "production", "test": "test", "staging": "staging", "dev": "development", "qa": "QA"},
}

TEMPLATE = {
    "nb": """Emne: {subject}

Hei {contact},

{system_name} ({system_id}) flyttes til nytt datasenter. {impact}

  Fra: {start}
  Til: {end}
  Forventet nedetid: ca. {hours} timer innenfor vinduet

Berørte databaser ({environment}):
{databases}

Berørte servere:
{hosts}

{together}Flyttegruppe: {group}.
Varselet skal publiseres i kundeportalen senest {publish_by}.

Passer ikke tidspunktet, eller har du spørsmål? Ta kontakt med migreringsprosjektet{team}.

Med vennlig hilsen
Migreringsprosjektet ({plan})
""",
    "en": """Subject: {subject}

Dear {contact},

{system_name} ({system_id}) is moving to the new data centre. {impact}

  From: {start}
  To:   {end}
  Expected downtime: about {hours} hours within the window

Databases affected ({environment}):
{databases}

Servers affected:
{hosts}

{together}Migration group: {group}.
This notice must be published in the customer portal by {publish_by}.

If the time does not suit you, or you have questions, contact the migration project{team}.

Kind regards
The migration project ({plan})
""",
}


def environment_words(envs: list[str], lang: str) -> str:
    """`["prod"]` -> "produksjon"; `["staging", "test"]` -> "staging og test"."""
    names = [ENVIRONMENT[lang].get(e, e) for e in envs] or [ENVIRONMENT[lang]["prod"]]
    joiner = " og " if lang == "nb" else " and "
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + joiner + names[-1]


def impact(system_name: str, envs: list[str], lang: str) -> str:
    """Whether the system itself is down: only when its production databases move."""
    if "prod" in envs or not envs:
        if lang == "nb":
            return f"{system_name} vil være utilgjengelig i dette tidsrommet:"
        return f"{system_name} will be unavailable during:"
    words = environment_words(envs, lang)
    if lang == "nb":
        if len(envs) == 1:
            return (
                f"Denne gangen gjelder det bare {words}miljøet; produksjon berøres ikke. "
                f"{words[:1].upper() + words[1:]}miljøet vil være utilgjengelig i dette tidsrommet:"
            )
        return (
            f"Denne gangen gjelder det bare miljøene {words}; produksjon berøres ikke. "
            "De vil være utilgjengelige i dette tidsrommet:"
        )
    if len(envs) == 1:
        return (
            f"This time only the {words} environment moves; production is not affected. It will be unavailable during:"
        )
    return f"This time only the {words} environments move; production is not affected. They will be unavailable during:"


def together(rules: list[str], n_databases: int, lang: str) -> str:
    if n_databases < 2 or not rules:
        return ""
    if "host" in rules and "instance" in rules:
        rules = [r for r in rules if r != "instance"]  # one instance is on one server: say it once
    clauses = [RULE[lang].get(r, r) for r in rules]
    if lang == "nb":
        return f"Databasene flyttes samlet fordi de {' og '.join(clauses)}. "
    return f"The databases move together because they {' and '.join(clauses)}. "


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
    environment: str = ""
    subject: str = ""
    sequence: int = 0

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
        hours = f"{g.estimated_hours:.1f}".replace(".", ",") if lang == "nb" else f"{g.estimated_hours:.1f}"
        team = f" ({plan.team_contact})" if plan.team_contact else ""
        for sid in g.systems:
            system = inv.systems[sid]
            own = [d for d in g.databases if inv.owner.get(d) == sid]
            envs = sorted({inv.databases[d].environment or "prod" for d in own})
            name = system.name or sid
            env_words = environment_words(envs, lang)
            if lang == "nb":
                subject = f"Flytting av {name} ({env_words}) {human_day(start.date(), lang)}"
            else:
                subject = f"Move of {name} ({env_words}) on {human_day(start.date(), lang)}"
            contacts = system.contacts or (
                inv.agencies[system.agency].contacts if system.agency in inv.agencies else []
            )
            for c in contacts:
                # stable across re-plans: the group id is a hash of its membership, never the date
                nid = f"{g.id}-{sid}-{slug(c.email)}"
                text = TEMPLATE[lang].format(
                    subject=subject,
                    system_name=name,
                    system_id=sid,
                    impact=impact(name, envs, lang),
                    environment=env_words,
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
                    together=together(rules, len(g.databases), lang),
                    group=g.id,
                    publish_by=human_day(publish_by, lang),
                    plan=plan.name,
                    team=team,
                )
                notices.append(
                    Notice(
                        nid,
                        g.id,
                        sid,
                        name,
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
                        ",".join(envs),
                        subject,
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
            "environment",
            "subject",
            "body",
            "sequence",
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
                n.environment,
                n.subject,
                n.text.split("\n\n", 1)[1] if "\n\n" in n.text else n.text,
                n.sequence,
                n.filename,
            ]
        )
    return buf.getvalue()
