"""The command line: parses arguments, builds objects, calls a command core.

Kept thin and light on purpose: only typer and the standard library are
imported here, so `oslomig --help` starts fast; pydantic, the solver and the
database drivers are imported inside the commands that use them.
"""

from __future__ import annotations

import datetime as dt
import enum
import sys
from pathlib import Path
from typing import Annotated, Callable, List, Optional

import typer

from oslomig import __version__

app = typer.Typer(
    name="oslomig",
    help="Plan and run a municipality's data-centre and file-share migration.\n\n"
    "Reads YAML migration plans and inventories; computes co-migration groups, schedules downtime windows, "
    "writes owner notices, scans inventories nightly and builds SharePoint move manifests.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # plain click help: rich's help renderer pulls in markdown-it and costs ~60 ms at every start
    rich_markup_mode=None,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
inventory_app = typer.Typer(
    help="Nightly inventory scans and drift reports.", no_args_is_help=True, rich_markup_mode=None
)
share_app = typer.Typer(
    help="File share scans and SharePoint move manifests.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(inventory_app, name="inventory")
app.add_typer(share_app, name="share")

_state = {"debug": False}


class ValidateFormat(str, enum.Enum):
    text = "text"
    json = "json"
    github = "github"


class SchemaName(str, enum.Enum):
    plan = "plan"
    share_plan = "share-plan"
    scan_targets = "scan-targets"
    inventory = "inventory"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"oslomig {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks for internal errors (also OSLOMIG_DEBUG=1).")
    ] = False,
) -> None:
    _state["debug"] = debug


def _env(quiet: bool = False):
    from oslomig.console import Env

    env = Env.from_os(debug=_state["debug"])
    env.quiet = quiet
    return env


def _run(call: Callable[[], int]) -> None:
    """Run a command core and turn its outcome into the spec's exit codes (SPEC §1)."""
    import os

    debug = _state["debug"] or os.environ.get("OSLOMIG_DEBUG") == "1"
    try:
        code = call()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; earlier outputs were left as they were\n")
        raise typer.Exit(130) from None
    except typer.Exit:
        raise
    except Exception as exc:
        from oslomig.errors import OslomigError

        if isinstance(exc, OslomigError):
            sys.stderr.write(f"error: {exc}\n")
            raise typer.Exit(exc.exit_code) from None
        if isinstance(exc, OSError) and exc.filename is not None and not debug:
            # the machine said no (a read-only folder, a path through a regular file): a sentence, exit 2
            sys.stderr.write(f"error: cannot use {exc.filename}: {exc.strerror or exc}\n")
            raise typer.Exit(2) from None
        if debug:
            import traceback

            traceback.print_exc()
        else:
            sys.stderr.write(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)\n")
        raise typer.Exit(3) from None
    raise typer.Exit(code)


def _parse_date(value: Optional[str]) -> Optional[dt.date]:
    if value is None:
        return None
    from oslomig.errors import OslomigError

    try:
        if len(value) != 10:
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise OslomigError(f"--today {value!r} is not a date like 2021-04-20 (YYYY-MM-DD, a day that exists)") from None


@app.command()
def validate(
    paths: Annotated[
        Optional[List[Path]],
        typer.Argument(help="Files or directories (searched for *.yaml/*.yml). Default: plans/ and inventories/."),
    ] = None,
    format: Annotated[
        ValidateFormat,
        typer.Option("--format", "-f", help="text for people, json for tools, github for Actions annotations."),
    ] = ValidateFormat.text,
) -> None:
    """Check plans, scan targets and inventories: schema, references, windows; `file:line:col` for every problem.

    Exit 0 when there are no errors (warnings allowed), 1 when there are, 2 when a path is missing.
    Example: oslomig validate plans/ inventories/ --format github
    """
    from oslomig.commands import validate as command

    _run(lambda: command.run(list(paths or []), format.value, _env()))


@app.command()
def schema(name: Annotated[SchemaName, typer.Argument(help="Which file kind.")]) -> None:
    """Print the JSON Schema of a file kind, for editors and other tools.

    Example: oslomig schema plan > schema/plan.json
    """
    from oslomig.commands import schema as command

    _run(lambda: command.run(name.value, _env()))


class GroupsFormat(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"
    dot = "dot"


class ScheduleFormat(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"
    ics = "ics"


class Lang(str, enum.Enum):
    nb = "nb"
    en = "en"


PlanOpt = Annotated[Path, typer.Option("--plan", "-p", help="A database migration plan (kind: database-migration).")]
InventoryOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--inventory",
        "-i",
        help="Inventory directory. Default: the plan's `inventory:`, else inventories/ beside the plan's folder.",
    ),
]
TodayOpt = Annotated[
    Optional[str],
    typer.Option("--today", help="Fix 'now' (YYYY-MM-DD) for notice lead time. Default: today in the plan's timezone."),
]


@app.command()
def groups(
    plan: PlanOpt,
    inventory: InventoryOpt = None,
    format: Annotated[
        GroupsFormat, typer.Option("--format", "-f", help="table for people; json, csv or dot (Graphviz) for tools.")
    ] = GroupsFormat.table,
) -> None:
    """Co-migration groups: databases tied by instance, host, cluster or availability group (and links or
    systems when bound) move together.

    Example: oslomig groups --plan plans/sql-2021.yaml --format json
    """
    from oslomig.commands import groups as command

    _run(lambda: command.run_groups(plan, inventory, format.value, _env()))


@app.command()
def schedule(
    plan: PlanOpt,
    inventory: InventoryOpt = None,
    today: TodayOpt = None,
    format: Annotated[
        ScheduleFormat, typer.Option("--format", "-f", help="table (with a per-month summary), json, csv or ics.")
    ] = ScheduleFormat.table,
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", help="Write the payload to this file (atomically) instead of stdout."),
    ] = None,
    explain: Annotated[
        Optional[str],
        typer.Option(
            "--explain", help="Show why GROUP got its window and what ruled out earlier ones.", metavar="GROUP"
        ),
    ] = None,
    time_limit: Annotated[
        float,
        typer.Option(
            "--time-limit", help="Solver effort (deterministic seconds) when the greedy schedule is not proven optimal."
        ),
    ] = 20.0,
    previous: Annotated[
        Optional[Path],
        typer.Option(
            "--previous",
            metavar="OLD.json",
            help="An earlier `schedule --format json`: keep every group that can stay where it was; list what moved.",
        ),
    ] = None,
) -> None:
    """Give every group one downtime window that keeps all hard constraints; explain the ones that cannot be placed.

    Exit 0 when every group is scheduled, 1 when some are not.
    Example: oslomig schedule --plan plans/sql-2021.yaml --today 2021-04-20 --format json --out schedule.json
    """
    from oslomig.commands import schedule as command

    _run(
        lambda: command.run_schedule(
            plan, inventory, _parse_date(today), format.value, out, explain, time_limit, _env(), previous
        )
    )


@app.command()
def notices(
    plan: PlanOpt,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory for the notice texts, notices.csv and notices.ics.")
    ],
    inventory: InventoryOpt = None,
    today: TodayOpt = None,
    lang: Annotated[Lang, typer.Option("--lang", help="nb (bokmål, default) or en.")] = Lang.nb,
) -> None:
    """Write owner notices for every scheduled group: one text per system contact, a CSV for the customer
    portal, an .ics calendar.

    Example: oslomig notices --plan plans/sql-2021.yaml --today 2021-04-20 --out notices/
    """
    from oslomig.commands import notices as command

    _run(lambda: command.run_notices(plan, inventory, _parse_date(today), out, lang.value, _env()))


@app.command()
def verify(
    plan: PlanOpt,
    schedule_file: Annotated[
        Path, typer.Option("--schedule", "-s", help="A schedule JSON from `oslomig schedule --format json`.")
    ],
    inventory: InventoryOpt = None,
    today: TodayOpt = None,
    format: Annotated[
        ValidateFormat, typer.Option("--format", "-f", help="text for people, json for tools, github for Actions.")
    ] = ValidateFormat.text,
) -> None:
    """Check a schedule JSON against every hard constraint of the plan, independently of the scheduler.

    Example: oslomig verify --plan plans/sql-2021.yaml --schedule schedule.json
    """
    from oslomig.commands import verify as command

    _run(lambda: command.run_verify(plan, inventory, schedule_file, _parse_date(today), _env(), format.value))


class DiffFormat(str, enum.Enum):
    table = "table"
    json = "json"


@inventory_app.command("scan")
def inventory_scan(
    targets: Annotated[Path, typer.Option("--targets", "-t", help="A scan-targets file (kind: scan-targets).")],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Inventory directory; each target writes OUT/scanned/<kind>-<name>.yaml."),
    ] = Path("inventories"),
    only: Annotated[Optional[List[str]], typer.Option("--only", help="Only these target names (repeatable).")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=256, help="Targets scanned at once (1-256).")] = 8,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary line (for cron).")] = False,
) -> None:
    """Scan SQL Server, Oracle, PostgreSQL and hosts concurrently into inventory files.

    A failing target keeps its previous file, is named on stderr and makes the exit code 1; the others still run.
    Example: oslomig inventory scan --targets plans/scan-targets.yaml --quiet   (nightly, from cron)
    """
    from oslomig.commands import inventory

    _run(lambda: inventory.run_scan(targets, out, list(only or []), workers, _env(quiet)))


@inventory_app.command("diff")
def inventory_diff(
    old: Annotated[Path, typer.Argument(help="The earlier inventory (directory or file).")],
    new: Annotated[Path, typer.Argument(help="The later inventory (directory or file).")],
    format: Annotated[DiffFormat, typer.Option("--format", "-f")] = DiffFormat.table,
    threshold_gb: Annotated[
        float, typer.Option("--size-threshold-gb", help="A size change must exceed this many GB...")
    ] = 1.0,
    threshold_pct: Annotated[
        float, typer.Option("--size-threshold-pct", help="...and this percentage to count.")
    ] = 10.0,
) -> None:
    """Hosts, instances and databases added, removed or changed between two inventories; exit 1 on any drift.

    Example: oslomig inventory diff inventories-2021-04-19/ inventories/
    """
    from oslomig.commands import inventory

    _run(lambda: inventory.run_diff(old, new, format.value, threshold_gb, threshold_pct, _env()))


class RecordStatus(str, enum.Enum):
    done = "done"
    failed = "failed"
    postponed = "postponed"


@app.command()
def status(
    plan: Annotated[
        List[Path],
        typer.Option("--plan", "-p", metavar="PLAN", help="A database migration plan (repeatable: SQL and Oracle)."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="Where status.html, .png and .json go.")],
    inventory: InventoryOpt = None,
    share_plan: Annotated[
        Optional[Path], typer.Option("--share-plan", metavar="FILE", help="A share plan (kind: share-migration).")
    ] = None,
    db: Annotated[Optional[Path], typer.Option("--db", metavar="FILE", help="The share scan database.")] = None,
    manifest: Annotated[
        Optional[Path],
        typer.Option(
            "--manifest",
            metavar="DIR",
            help="The directory `share manifest` wrote and `share verify` updated (without it: a manifest from --db).",
        ),
    ] = None,
    today: TodayOpt = None,
    lang: Annotated[Lang, typer.Option("--lang", help="nb (bokmål, default) or en.")] = Lang.nb,
    time_limit: Annotated[
        float, typer.Option("--time-limit", metavar="SECONDS", help="Solver time limit per plan.")
    ] = 20.0,
) -> None:
    """Write the weekly status dashboard: status.html (one self-contained page), status.png (1200 x 630, the
    group's cover picture) and status.json (every number on the page).

    Example: oslomig status --plan plans/sql-2021.yaml --plan plans/oracle-2021.yaml --today 2021-06-15 --out status/
    """
    from oslomig.commands import status as status_core

    _run(
        lambda: status_core.run_status(
            list(plan), inventory, share_plan, db, manifest, _parse_date(today), out, lang.value, time_limit, _env()
        )
    )


@app.command()
def announce(
    plan: PlanOpt,
    through: Annotated[
        str, typer.Option("--through", metavar="YYYY-MM-DD", help="Announce every window that starts on or before.")
    ],
    inventory: InventoryOpt = None,
    today: TodayOpt = None,
    notices: Annotated[
        Optional[Path],
        typer.Option("--notices", metavar="DIR", help="Also write the notices of exactly the groups announced now."),
    ] = None,
    lang: Annotated[
        Lang, typer.Option("--lang", help="Language of those notices: nb (bokmål, default) or en.")
    ] = Lang.nb,
    time_limit: Annotated[
        float, typer.Option("--time-limit", metavar="SECONDS", help="Solver effort, as for `schedule`.")
    ] = 20.0,
) -> None:
    """Write the windows starting by --through into the plan's `announced:` (edited in place, comments kept).

    Announced windows never move by themselves again; a second run adds nothing.
    Example: oslomig announce --plan plans/sql-2021.yaml --through 2021-05-04 --today 2021-04-20 --notices out/
    """
    from oslomig.commands import loop

    _run(
        lambda: loop.run_announce(
            plan, inventory, _parse_date(through), _parse_date(today), notices, lang.value, time_limit, _env()
        )
    )


@app.command()
def record(
    plan: PlanOpt,
    status: Annotated[RecordStatus, typer.Option("--status", help="done, failed (rolled back) or postponed.")],
    group: Annotated[
        Optional[List[str]],
        typer.Option(
            "--group", "-g", metavar="GROUP", help="A group (as `groups` names it); repeatable, one record each."
        ),
    ] = None,
    database: Annotated[
        Optional[List[str]],
        typer.Option(
            "--database", "-d", metavar="ID", help="A database of the group (repeatable); the record names databases."
        ),
    ] = None,
    at: Annotated[
        Optional[str], typer.Option("--at", metavar="YYYY-MM-DDTHH:MM", help="When it happened (local). Default: now.")
    ] = None,
    note: Annotated[
        Optional[str], typer.Option("--note", metavar="TEXT", help="What happened, in a few words.")
    ] = None,
    inventory: InventoryOpt = None,
) -> None:
    """Record what happened in a window: done -> `migrated:`; failed or postponed -> out of `announced:`.

    Each is appended to `outcomes:`; the next schedule finds a failed group a new window, with notice again.
    Example: oslomig record --plan plans/sql-2021.yaml -d sqlp03/MSSQLSERVER/Kasse --status failed --note rollback
    """
    from oslomig.commands import loop

    def call() -> int:
        when = None
        if at is not None:
            from oslomig.errors import OslomigError

            try:
                when = dt.datetime.strptime(at, "%Y-%m-%dT%H:%M")
            except ValueError:
                raise OslomigError(f"--at {at!r} is not a local time like 2021-05-19T02:10") from None
        return loop.run_record(
            plan, inventory, list(group or []), list(database or []), status.value, when, note, _env()
        )

    _run(call)


@share_app.command("scan")
def share_scan(
    source: Annotated[
        Optional[str], typer.Argument(help="Ad hoc: a local path or ssh://user@host[:port]/path (instead of --plan).")
    ] = None,
    plan: Annotated[Optional[Path], typer.Option("--plan", "-p", help="A share plan (kind: share-migration).")] = None,
    share: Annotated[Optional[List[str]], typer.Option("--share", help="Only these share ids (repeatable).")] = None,
    db: Annotated[Path, typer.Option("--db", help="The SQLite scan database (created if missing).")] = Path(
        "shares.sqlite"
    ),
    key_file: Annotated[
        Optional[str],
        typer.Option("--key-file", help="SSH private key for ssh:// sources (default: agent and ~/.ssh keys)."),
    ] = None,
    known_hosts: Annotated[
        str, typer.Option("--known-hosts", help="known_hosts file that SSH host keys are checked against.")
    ] = "~/.ssh/known_hosts",
    accept_new_host_key: Annotated[
        bool, typer.Option("--accept-new-host-key", help="Record an unknown SSH host key instead of refusing it.")
    ] = False,
) -> None:
    """Walk shares once (symlinks never followed) into a SQLite file; hash only files whose sizes collide.

    Example: oslomig share scan --plan plans/shares-ine-2021.yaml --db scans/ine.sqlite
    """
    from oslomig.commands import shares

    def call() -> int:
        ssh = None  # a local path alone needs no SSH options (nor pydantic to hold them: 0.1 s of start-up)
        if plan is not None or (source or "").startswith("ssh://"):
            from oslomig.models import SshOptions

            ssh = SshOptions(key_file=key_file, known_hosts=known_hosts, accept_new_host_key=accept_new_host_key)
        return shares.run_scan(plan, source, list(share or []), db, _env(), ssh)

    _run(call)


@share_app.command("manifest")
def share_manifest(
    plan: Annotated[Path, typer.Option("--plan", "-p", help="The share plan the scan was made for.")],
    db: Annotated[Path, typer.Option("--db", help="The SQLite scan database from `share scan`.")],
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Directory for manifest.csv, spmt.csv/json, summary, timeline and review files."
        ),
    ],
    today: TodayOpt = None,
    decisions: Annotated[
        Optional[Path],
        typer.Option(
            "--decisions",
            metavar="DIR",
            help="Returned review lists (review-*.xlsx or .csv, filled in by contacts) to apply.",
        ),
    ] = None,
) -> None:
    """Classify every scanned file (migrate, review or skip, with reasons) and write SharePoint Migration Tool tasks.

    Example: oslomig share manifest --plan plans/shares-ine-2021.yaml --db scans/ine.sqlite --out manifest/
    """
    from oslomig.commands import shares

    _run(lambda: shares.run_manifest(plan, db, out, _parse_date(today), _env(), decisions))


@share_app.command("stage")
def share_stage(
    plan: Annotated[Path, typer.Option("--plan", "-p", help="The share plan (each share names its `staging:`).")],
    db: Annotated[Path, typer.Option("--db", help="The SQLite scan database the manifest was made from.")],
    manifest: Annotated[
        Path, typer.Option("--manifest", "-m", metavar="DIR", help="The directory `share manifest` wrote.")
    ],
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", metavar="DIR", help="Where stage.sh and stage.ps1 go (default: --manifest DIR)."),
    ] = None,
    share: Annotated[Optional[List[str]], typer.Option("--share", help="Only these share ids (repeatable).")] = None,
    apply: Annotated[
        bool,
        typer.Option("--apply", help="Build the staging trees now (local shares here; ssh:// shares on their server)."),
    ] = False,
) -> None:
    """Hard-link every file the manifest moves at its target path under one staging root per target (SPEC 5.2).

    Writes stage.sh (POSIX ln) and stage.ps1 (Windows file servers); both are idempotent and touch nothing
    outside the staging roots. SPMT's tasks (spmt.csv/json) read the staging roots, so SPMT copies exactly the
    manifest.

    Example: oslomig share stage --plan plans/shares-ine-2021.yaml --db scans/ine.sqlite --manifest manifest/ --apply
    """
    from oslomig.commands import staging

    _run(lambda: staging.run_stage(plan, db, manifest, out, list(share or []), apply, _env()))


@share_app.command("verify")
def share_verify(
    plan: Annotated[Path, typer.Option("--plan", "-p", help="The share plan.")],
    manifest: Annotated[
        Path, typer.Option("--manifest", "-m", metavar="DIR", help="The directory `share manifest` wrote.")
    ],
    reports: Annotated[
        Path,
        typer.Option("--reports", metavar="DIR", help="SPMT's report folder (ItemReport*.csv, searched recursively)."),
    ],
    out: Annotated[
        Optional[Path],
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            help="Where verify-<share>.csv, verified.json and the updated timeline go (default: --manifest DIR).",
        ),
    ] = None,
    share: Annotated[Optional[List[str]], typer.Option("--share", help="Only these share ids (repeatable).")] = None,
    today: TodayOpt = None,
) -> None:
    """Check that every file the manifest moves arrived, from SPMT's item reports; exit 1 listing each that did not.

    A share is safe to delete (timeline.csv: safe_to_delete) only when verify passed on its current manifest and
    no review row is open.

    Example: oslomig share verify --plan plans/shares-ine-2021.yaml --manifest manifest/ --reports spmt-reports/
    """
    from oslomig.commands import staging

    _run(lambda: staging.run_verify(plan, manifest, reports, out, list(share or []), _parse_date(today), _env()))


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    # `--debug` is accepted anywhere before `--`, as the error messages suggest (`oslomig validate --debug`)
    end = args.index("--") if "--" in args else len(args)
    if "--debug" in args[:end]:
        _state["debug"] = True
        args = [a for i, a in enumerate(args) if not (a == "--debug" and i < end)]
        args.insert(0, "--debug")
    command = typer.main.get_command(app)
    _polish_help(command)
    command(args=args, prog_name="oslomig")


# what each option takes, as a person would write it (typer would show <path>, <str>, <list[str]>)
METAVARS = {
    "plan": "PLAN.yaml",
    "inventory": "DIR",
    "today": "YYYY-MM-DD",
    "out": "PATH",
    "db": "SCAN.sqlite",
    "targets": "TARGETS.yaml",
    "schedule": "SCHEDULE.json",
    "schedule_file": "SCHEDULE.json",
    "share": "ID",
    "only": "NAME",
    "workers": "N",
    "key_file": "FILE",
    "known_hosts": "FILE",
    "time_limit": "SECONDS",
    "threshold_gb": "GB",
    "threshold_pct": "PERCENT",
    "name": "KIND",
}


def _polish_help(command) -> None:
    """Every command lists with its whole first sentence, and every option shows what it takes."""
    for sub in getattr(command, "commands", {}).values():
        _polish_help(sub)
    if command.help and not command.short_help:
        command.short_help = command.help.strip().split("\n")[0]
    for param in command.params:
        if getattr(param, "param_type_name", "") == "argument":
            param.display_type_rich = lambda ctx=None: ""  # the argument's name says what it takes
            param.metavar = param.metavar or (param.name or "value").upper()
            continue
        if getattr(param, "metavar", None) is None and param.name in METAVARS:
            param.metavar = METAVARS[param.name]  # choices keep typer's <a|b|c>
