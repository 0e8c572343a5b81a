"""The command line: parses arguments, builds objects, calls a command core.

Kept thin and light on purpose: only the standard library's argparse is imported here, so `oslomig --help` starts
fast and a command pays only for what it uses; pydantic, the solver and the database drivers are imported inside the
commands that use them. (typer did the parsing until 0.29 began importing pydantic for every command it ran: 0.1 s
of start-up, and 70 ms of its own at every `--help`.)

Each command is a small function that declares its arguments on a parser and returns the function that runs it: that
one builds the objects and returns the command core's exit code (SPEC §1).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

from oslomig import __version__

Runner = Callable[[argparse.Namespace], int]

_state = {"debug": False}


def _env(quiet: bool = False):
    from oslomig.console import Env

    env = Env.from_os(debug=_state["debug"])
    env.quiet = quiet
    return env


def _run(call: Callable[[], int]) -> None:
    """Run a command core and turn its outcome into the spec's exit codes (SPEC §1), raised as SystemExit."""
    import os

    debug = _state["debug"] or os.environ.get("OSLOMIG_DEBUG") == "1"
    try:
        code = call()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; earlier outputs were left as they were\n")
        raise SystemExit(130) from None
    except SystemExit:
        raise
    except Exception as exc:
        from oslomig.errors import OslomigError

        if isinstance(exc, OslomigError):
            sys.stderr.write(f"error: {exc}\n")
            raise SystemExit(exc.exit_code) from None
        if isinstance(exc, OSError) and exc.filename is not None and not debug:
            # the machine said no (a read-only folder, a path through a regular file): a sentence, exit 2
            sys.stderr.write(f"error: cannot use {exc.filename}: {exc.strerror or exc}\n")
            raise SystemExit(2) from None
        if debug:
            import traceback

            traceback.print_exc()
        else:
            sys.stderr.write(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)\n")
        raise SystemExit(3) from None
    raise SystemExit(code)


def _parse_date(value: str | None, option: str = "--today") -> dt.date | None:
    if value is None:
        return None
    from oslomig.errors import OslomigError

    try:
        if len(value) != 10:
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        message = f"{option} {value!r} is not a date like 2021-04-20 (YYYY-MM-DD, a day that exists)"
        raise OslomigError(message) from None


def _workers(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= n <= 256:
        raise argparse.ArgumentTypeError(f"{n} is not between 1 and 256")
    return n


# ---- options several commands share -----------------------------------------------------------------------------


def _plan(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-p",
        "--plan",
        type=Path,
        required=True,
        metavar="PLAN.yaml",
        help="A database migration plan (kind: database-migration).",
    )


def _inventory(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-i",
        "--inventory",
        type=Path,
        metavar="DIR",
        help="Inventory directory. Default: the plan's `inventory:`, else inventories/ beside the plan's folder.",
    )


def _today(p: argparse.ArgumentParser, what: str = "Fix 'now' (YYYY-MM-DD) for notice lead time.") -> None:
    p.add_argument("--today", metavar="YYYY-MM-DD", help=f"{what} Default: today in the plan's timezone.")


def _lang(p: argparse.ArgumentParser, what: str = "nb (bokmål) or en.") -> None:
    p.add_argument("--lang", choices=("nb", "en"), default="nb", help=what)


def _time_limit(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--time-limit", type=float, default=20.0, metavar="SECONDS", help=what)


def _format(p: argparse.ArgumentParser, choices: tuple[str, ...], what: str) -> None:
    p.add_argument("-f", "--format", choices=choices, default=choices[0], help=what)


def _shares(p: argparse.ArgumentParser) -> None:
    p.add_argument("--share", action="append", default=[], metavar="ID", help="Only these share ids (repeatable).")


# ---- the commands ------------------------------------------------------------------------------------------------


def validate(p: argparse.ArgumentParser) -> Runner:
    """Check plans, scan targets and inventories: schema, references, windows; `file:line:col` for every problem.

    Exit 0 when there are no errors (warnings allowed), 1 when there are, 2 when a path is missing.
    Example: oslomig validate plans/ inventories/ --format github
    """
    p.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATHS",
        help="Files or directories (searched for *.yaml/*.yml). Default: plans/ and inventories/.",
    )
    _format(p, ("text", "json", "github"), "text for people, json for tools, github for Actions annotations.")

    def run(a: argparse.Namespace) -> int:
        from oslomig.commands import validate as command

        return command.run(list(a.paths), a.format, _env())

    return run


def schema(p: argparse.ArgumentParser) -> Runner:
    """Print the JSON Schema of a file kind, for editors and other tools.

    Example: oslomig schema plan > schema/plan.json
    """
    p.add_argument(
        "name",
        choices=("plan", "share-plan", "scan-targets", "inventory"),
        metavar="KIND",
        help="Which file kind: plan, share-plan, scan-targets or inventory.",
    )

    def run(a: argparse.Namespace) -> int:
        from oslomig.commands import schema as command

        return command.run(a.name, _env())

    return run


def groups(p: argparse.ArgumentParser) -> Runner:
    """Co-migration groups: databases tied by instance, host, cluster or availability group (and links or systems
    when bound) move together.

    Example: oslomig groups --plan plans/sql-2021.yaml --format json
    """
    _plan(p)
    _inventory(p)
    _format(p, ("table", "json", "csv", "dot"), "table for people; json, csv or dot (Graphviz) for tools.")

    def run(a: argparse.Namespace) -> int:
        from oslomig.commands import groups as command

        return command.run_groups(a.plan, a.inventory, a.format, _env())

    return run


def schedule(p: argparse.ArgumentParser) -> Runner:
    """Give every group one downtime window that keeps all hard constraints; explain the ones that cannot be placed.

    Exit 0 when every group is scheduled, 1 when some are not.
    Example: oslomig schedule --plan plans/sql-2021.yaml --today 2021-04-20 --format json --out schedule.json
    """
    _plan(p)
    _inventory(p)
    _today(p)
    _format(p, ("table", "json", "csv", "ics"), "table (with a per-month summary), json, csv or ics.")
    p.add_argument(
        "-o", "--out", type=Path, metavar="PATH", help="Write the payload to this file (atomically) instead of stdout."
    )
    p.add_argument("--explain", metavar="GROUP", help="Show why GROUP got its window and what ruled out earlier ones.")
    _time_limit(p, "Solver effort (deterministic seconds) when the greedy schedule is not proven optimal.")
    p.add_argument(
        "--previous",
        type=Path,
        metavar="OLD.json",
        help="An earlier `schedule --format json`: keep every group that can stay where it was; list what moved.",
    )

    def run(a: argparse.Namespace) -> int:
        from oslomig.commands import schedule as command

        return command.run_schedule(
            a.plan, a.inventory, _parse_date(a.today), a.format, a.out, a.explain, a.time_limit, _env(), a.previous
        )

    return run


def notices(p: argparse.ArgumentParser) -> Runner:
    """Write owner notices for every scheduled group: one text per system contact, a CSV for the customer portal, an
    .ics calendar.

    Example: oslomig notices --plan plans/sql-2021.yaml --today 2021-04-20 --out notices/
    """
    _plan(p)
    p.add_argument(
        "-o",
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="Directory for the notice texts, notices.csv and notices.ics.",
    )
    _inventory(p)
    _today(p)
    _lang(p)

    def run(a: argparse.Namespace) -> int:
        from oslomig.commands import notices as command

        return command.run_notices(a.plan, a.inventory, _parse_date(a.today), a.out, a.lang, _env())

    return run


def verify(p: argparse.ArgumentParser) -> Runner:
    """Check a schedule JSON against every hard constraint of the plan, independently of the scheduler.

    Example: oslomig verify --plan plans/sql-2021.yaml --schedule schedule.json
    """
    _plan(p)
    p.add_argument(
        "-s",
        "--schedule",
        dest="schedule_file",
        type=Path,
        required=True,
        metavar="SCHEDULE.json",
        help="A schedule JSON from `oslomig schedule --format json`.",
    )
    _inventory(p)
    _today(p)
    _format(p, ("text", "json", "github"), "text for people, json for tools, github for Actions.")

    def run(a: argparse.Namespace) -> int:
        from oslomig.commands import verify as command

        return command.run_verify(a.plan, a.inventory, a.schedule_file, _parse_date(a.today), _env(), a.format)

    return run


def inventory_scan(p: argparse.ArgumentParser) -> Runner:
    """Scan SQL Server, Oracle, PostgreSQL and hosts concurrently into inventory files.

    A failing target keeps its previous file, is named on stderr and makes the exit code 1; the others still run.
    Example: oslomig inventory scan --targets plans/scan-targets.yaml --quiet   (nightly, from cron)
    """
    p.add_argument(
        "-t",
        "--targets",
        type=Path,
        required=True,
        metavar="TARGETS.yaml",
        help="A scan-targets file (kind: scan-targets).",
    )
    p.add_argument(
        "-o",
        "--out",
        type=Path,
        default=Path("inventories"),
        metavar="DIR",
        help="Inventory directory; each target writes OUT/scanned/<kind>-<name>.yaml.",
    )
    p.add_argument("--only", action="append", default=[], metavar="NAME", help="Only these target names (repeatable).")
    p.add_argument("--workers", type=_workers, default=8, metavar="N", help="Targets scanned at once (1-256).")
    p.add_argument("-q", "--quiet", action="store_true", help="Print only the summary line (for cron).")

    def run(a: argparse.Namespace) -> int:
        from oslomig.commands import inventory

        return inventory.run_scan(a.targets, a.out, list(a.only), a.workers, _env(a.quiet))

    return run


def inventory_diff(p: argparse.ArgumentParser) -> Runner:
    """Hosts, instances and databases added, removed or changed between two inventories; exit 1 on any drift.

    Example: oslomig inventory diff inventories-2021-04-19/ inventories/
    """
    p.add_argument("old", type=Path, metavar="OLD", help="The earlier inventory (directory or file).")
    p.add_argument("new", type=Path, metavar="NEW", help="The later inventory (directory or file).")
    _format(p, ("table", "json"), "table for people, json for tools.")
    p.add_argument(
        "--size-threshold-gb", type=float, default=1.0, metavar="GB", help="A size change must exceed this many GB..."
    )
    p.add_argument(
        "--size-threshold-pct", type=float, default=10.0, metavar="PERCENT", help="...and this percentage to count."
    )

    def run(a: argparse.Namespace) -> int:
        from oslomig.commands import inventory

        return inventory.run_diff(a.old, a.new, a.format, a.size_threshold_gb, a.size_threshold_pct, _env())

    return run


def status(p: argparse.ArgumentParser) -> Runner:
    """Write the weekly status dashboard: status.html (one self-contained page), status.png (1200 x 630, the group's
    cover picture) and status.json (every number on the page).

    Example: oslomig status --plan plans/sql-2021.yaml --plan plans/oracle-2021.yaml --today 2021-06-15 --out status/
    """
    p.add_argument(
        "-p",
        "--plan",
        type=Path,
        action="append",
        required=True,
        metavar="PLAN",
        help="A database migration plan (repeatable: SQL and Oracle).",
    )
    p.add_argument("-o", "--out", type=Path, required=True, metavar="DIR", help="Where status.html, .png and .json go.")
    _inventory(p)
    p.add_argument("--share-plan", type=Path, metavar="FILE", help="A share plan (kind: share-migration).")
    p.add_argument("--db", type=Path, metavar="FILE", help="The share scan database.")
    p.add_argument(
        "--manifest",
        type=Path,
        metavar="DIR",
        help="The directory `share manifest` wrote and `share verify` updated (without it: a manifest from --db).",
    )
    _today(p)
    _lang(p)
    _time_limit(p, "Solver time limit per plan.")

    def run(a: argparse.Namespace) -> int:
        from oslomig.commands import status as command

        return command.run_status(
            list(a.plan),
            a.inventory,
            a.share_plan,
            a.db,
            a.manifest,
            _parse_date(a.today),
            a.out,
            a.lang,
            a.time_limit,
            _env(),
        )

    return run


def announce(p: argparse.ArgumentParser) -> Runner:
    """Write the windows starting by --through into the plan's `announced:` (edited in place, comments kept).

    Announced windows never move by themselves again; a second run adds nothing.
    Example: oslomig announce --plan plans/sql-2021.yaml --through 2021-05-04 --today 2021-04-20 --notices out/
    """
    _plan(p)
    p.add_argument(
        "--through", required=True, metavar="YYYY-MM-DD", help="Announce every window that starts on or before."
    )
    _inventory(p)
    _today(p)
    p.add_argument(
        "--notices", type=Path, metavar="DIR", help="Also write the notices of exactly the groups announced now."
    )
    _lang(p, "Language of those notices: nb (bokmål) or en.")
    _time_limit(p, "Solver effort, as for `schedule`.")

    def run(a: argparse.Namespace) -> int:
        from oslomig.commands import loop

        return loop.run_announce(
            a.plan,
            a.inventory,
            _parse_date(a.through, "--through"),
            _parse_date(a.today),
            a.notices,
            a.lang,
            a.time_limit,
            _env(),
        )

    return run


def record(p: argparse.ArgumentParser) -> Runner:
    """Record what happened in a window: done -> `migrated:`; failed or postponed -> out of `announced:`.

    Each is appended to `outcomes:`; the next schedule finds a failed group a new window, with notice again.
    Example: oslomig record --plan plans/sql-2021.yaml -d sqlp03/MSSQLSERVER/Kasse --status failed --note rollback
    """
    _plan(p)
    p.add_argument(
        "--status",
        choices=("done", "failed", "postponed"),
        required=True,
        help="done, failed (rolled back) or postponed.",
    )
    p.add_argument(
        "-g",
        "--group",
        action="append",
        default=[],
        metavar="GROUP",
        help="A group (as `groups` names it); repeatable, one record each.",
    )
    p.add_argument(
        "-d",
        "--database",
        action="append",
        default=[],
        metavar="ID",
        help="A database of the group (repeatable); the record names databases.",
    )
    p.add_argument("--at", metavar="YYYY-MM-DDTHH:MM", help="When it happened (local). Default: now.")
    p.add_argument("--note", metavar="TEXT", help="What happened, in a few words.")
    _inventory(p)

    def run(a: argparse.Namespace) -> int:
        from oslomig.commands import loop

        when = None
        if a.at is not None:
            from oslomig.errors import OslomigError

            try:
                when = dt.datetime.strptime(a.at, "%Y-%m-%dT%H:%M")
            except ValueError:
                raise OslomigError(f"--at {a.at!r} is not a local time like 2021-05-19T02:10") from None
        return loop.run_record(a.plan, a.inventory, list(a.group), list(a.database), a.status, when, a.note, _env())

    return run


def share_scan(p: argparse.ArgumentParser) -> Runner:
    """Walk shares once (symlinks never followed) into a SQLite file; hash only files whose sizes collide.

    Example: oslomig share scan --plan plans/shares-ine-2021.yaml --db scans/ine.sqlite
    """
    p.add_argument(
        "source",
        nargs="?",
        metavar="SOURCE",
        help="Ad hoc: a local path or ssh://user@host[:port]/path (instead of --plan).",
    )
    p.add_argument("-p", "--plan", type=Path, metavar="PLAN.yaml", help="A share plan (kind: share-migration).")
    _shares(p)
    p.add_argument(
        "--db",
        type=Path,
        default=Path("shares.sqlite"),
        metavar="SCAN.sqlite",
        help="The SQLite scan database (created if missing).",
    )
    p.add_argument(
        "--key-file", metavar="FILE", help="SSH private key for ssh:// sources (default: agent and ~/.ssh keys)."
    )
    p.add_argument(
        "--known-hosts",
        default="~/.ssh/known_hosts",
        metavar="FILE",
        help="known_hosts file that SSH host keys are checked against.",
    )
    p.add_argument(
        "--accept-new-host-key", action="store_true", help="Record an unknown SSH host key instead of refusing it."
    )

    def run(a: argparse.Namespace) -> int:
        from oslomig.commands import shares
        from oslomig.sshconn import SshSettings

        ssh = SshSettings(key_file=a.key_file, known_hosts=a.known_hosts, accept_new_host_key=a.accept_new_host_key)
        return shares.run_scan(a.plan, a.source, list(a.share), a.db, _env(), ssh)

    return run


def share_manifest(p: argparse.ArgumentParser) -> Runner:
    """Classify every scanned file (migrate, review or skip, with reasons) and write SharePoint Migration Tool tasks.

    Example: oslomig share manifest --plan plans/shares-ine-2021.yaml --db scans/ine.sqlite --out manifest/
    """
    p.add_argument(
        "-p", "--plan", type=Path, required=True, metavar="PLAN.yaml", help="The share plan the scan was made for."
    )
    p.add_argument(
        "--db", type=Path, required=True, metavar="SCAN.sqlite", help="The SQLite scan database from `share scan`."
    )
    p.add_argument(
        "-o",
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="Directory for manifest.csv, spmt.csv/json, summary, timeline and review files.",
    )
    _today(p, "Fix 'now' (YYYY-MM-DD) for the age of files.")
    p.add_argument(
        "--decisions",
        type=Path,
        metavar="DIR",
        help="Returned review lists (review-*.xlsx or .csv, filled in by contacts) to apply.",
    )

    def run(a: argparse.Namespace) -> int:
        from oslomig.commands import shares

        return shares.run_manifest(a.plan, a.db, a.out, _parse_date(a.today), _env(), a.decisions)

    return run


def share_stage(p: argparse.ArgumentParser) -> Runner:
    """Hard-link every file the manifest moves at its target path under one staging root per target (SPEC 5.2).

    Writes stage.sh (POSIX ln) and stage.ps1 (Windows file servers); both are idempotent and touch nothing outside
    the staging roots. SPMT's tasks (spmt.csv/json) read the staging roots, so SPMT copies exactly the manifest.

    Example: oslomig share stage --plan plans/shares-ine-2021.yaml --db scans/ine.sqlite --manifest manifest/ --apply
    """
    p.add_argument(
        "-p",
        "--plan",
        type=Path,
        required=True,
        metavar="PLAN.yaml",
        help="The share plan (each share names its `staging:`).",
    )
    p.add_argument(
        "--db",
        type=Path,
        required=True,
        metavar="SCAN.sqlite",
        help="The SQLite scan database the manifest was made from.",
    )
    p.add_argument(
        "-m", "--manifest", type=Path, required=True, metavar="DIR", help="The directory `share manifest` wrote."
    )
    p.add_argument(
        "-o", "--out", type=Path, metavar="DIR", help="Where stage.sh and stage.ps1 go (default: --manifest DIR)."
    )
    _shares(p)
    p.add_argument(
        "--apply",
        action="store_true",
        help="Build the staging trees now (local shares here; ssh:// shares on their server).",
    )

    def run(a: argparse.Namespace) -> int:
        from oslomig.commands import staging

        return staging.run_stage(a.plan, a.db, a.manifest, a.out, list(a.share), a.apply, _env())

    return run


def share_verify(p: argparse.ArgumentParser) -> Runner:
    """Check that every file the manifest moves arrived, from SPMT's item reports; exit 1 listing each that did not.

    A share is safe to delete (timeline.csv: safe_to_delete) only when verify passed on its current manifest and no
    review row is open.

    Example: oslomig share verify --plan plans/shares-ine-2021.yaml --manifest manifest/ --reports spmt-reports/
    """
    p.add_argument("-p", "--plan", type=Path, required=True, metavar="PLAN.yaml", help="The share plan.")
    p.add_argument(
        "-m", "--manifest", type=Path, required=True, metavar="DIR", help="The directory `share manifest` wrote."
    )
    p.add_argument(
        "--reports",
        type=Path,
        required=True,
        metavar="DIR",
        help="SPMT's report folder (ItemReport*.csv, searched recursively).",
    )
    p.add_argument(
        "-o",
        "--out",
        type=Path,
        metavar="DIR",
        help="Where verify-<share>.csv, verified.json and the updated timeline go (default: --manifest DIR).",
    )
    _shares(p)
    _today(p, "Fix 'now' (YYYY-MM-DD) for the deletion dates.")

    def run(a: argparse.Namespace) -> int:
        from oslomig.commands import staging

        return staging.run_verify(a.plan, a.manifest, a.reports, a.out, list(a.share), _parse_date(a.today), _env())

    return run


DESCRIPTION = (
    "Plan and run a municipality's data-centre and file-share migration.\n\n"
    "Reads YAML migration plans and inventories; computes co-migration groups, schedules downtime windows, writes "
    "owner notices, scans inventories nightly and builds SharePoint move manifests."
)

# the command tree, in the order `oslomig --help` lists it: name -> a command, or a group's help and its commands
COMMANDS: dict[str, object] = {
    "validate": validate,
    "schema": schema,
    "groups": groups,
    "schedule": schedule,
    "notices": notices,
    "verify": verify,
    "inventory": ("Nightly inventory scans and drift reports.", {"scan": inventory_scan, "diff": inventory_diff}),
    "status": status,
    "announce": announce,
    "record": record,
    "share": (
        "File share scans and SharePoint move manifests.",
        {"scan": share_scan, "manifest": share_manifest, "stage": share_stage, "verify": share_verify},
    ),
}


class _Formatter(argparse.HelpFormatter):
    """Help as people read it: paragraphs wrapped to the terminal, an `Example:` line kept whole; `-p, --plan
    PLAN.yaml` (the value named once); each option says its default or that it is required."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        out: list[str] = []
        for paragraph in text.split("\n\n"):
            flow: list[str] = []
            lines: list[str] = []
            for line in paragraph.splitlines() + ["Example:"]:  # the sentinel flushes the last flow
                if line.startswith("Example:"):
                    if flow:
                        lines.append(
                            textwrap.fill(" ".join(flow), width, initial_indent=indent, subsequent_indent=indent)
                        )
                        flow = []
                    lines.append(indent + line)
                else:
                    flow.append(line.strip())
            out.append("\n".join(lines[:-1]))
        return "\n\n".join(out)

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not action.option_strings or action.nargs == 0:
            return super()._format_action_invocation(action)
        value = self._format_args(action, self._get_default_metavar_for_optional(action))
        return f"{', '.join(action.option_strings)} {value}"

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.required and action.option_strings:
            return f"{text} (required)"
        default = action.default
        if action.option_strings and default not in (None, False, [], argparse.SUPPRESS):
            return f"{text} (default: {default})"
        return text


class _Parser(argparse.ArgumentParser):
    """argparse with the spec's exit code for bad arguments (2) and a pointer to the help. Options are spelt out:
    `--pla` is refused, not taken for `--plan` (a later option could make today's abbreviation mean another)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self.fill: Callable[[], None] | None = None  # adds the command's arguments, when it is the one run or shown

    def _filled(self) -> None:
        if self.fill is not None:
            fill, self.fill = self.fill, None
            fill()

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        self._filled()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self._filled()
        return super().format_usage()

    def format_help(self) -> str:
        self._filled()
        return super().format_help()

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\nTry '{self.prog} --help' for help.\n")
        raise SystemExit(2)


def _clean(doc: str) -> str:
    """A docstring as the help shows it (inspect.cleandoc, without importing inspect: 10 ms of start-up)."""
    import textwrap

    first, _, rest = doc.strip("\n").partition("\n")
    return f"{first.strip()}\n{textwrap.dedent(rest)}".strip()


def _summary(doc: str) -> str:
    return doc.split("\n\n")[0].replace("\n", " ")


def _add(sub, name: str, entry) -> None:
    common = {"formatter_class": _Formatter}
    if isinstance(entry, tuple):
        text, children = entry
        group = sub.add_parser(name, help=text, description=text, **common)
        group.set_defaults(_parser=group)
        inner = group.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
        for child, command in children.items():
            _add(inner, child, command)
        return
    doc = _clean(entry.__doc__ or "")
    p = sub.add_parser(name, help=_summary(doc), description=doc, **common)
    p.set_defaults(_parser=p)
    # the command's arguments are added when it is parsed or its help is shown: the others' cost every start ~6 ms
    p.fill = lambda: p.set_defaults(_run=entry(p))


def _messages_looked_up_once() -> None:
    """argparse translates its own words ("usage: ", "options", "show this help message and exit") through gettext
    for every parser it builds, and gettext looks for a catalogue on disk at each call: 60 calls and 240 `stat`s, 4 ms
    of every start. A word has one translation within a run, so each is looked up once."""
    lookup = getattr(argparse, "_", None)
    if callable(lookup) and not hasattr(lookup, "cache_info"):
        import functools

        setattr(argparse, "_", functools.cache(lookup))  # noqa: B010 (a private name of argparse's module)


def parser() -> argparse.ArgumentParser:
    _messages_looked_up_once()
    root = _Parser(prog="oslomig", description=DESCRIPTION, formatter_class=_Formatter)
    root.add_argument(
        "--version", action="version", version=f"oslomig {__version__}", help="Print the version and exit."
    )
    root.add_argument(
        "--debug", action="store_true", help="Show full tracebacks for internal errors (also OSLOMIG_DEBUG=1)."
    )
    root.set_defaults(_parser=root)
    sub = root.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for name, entry in COMMANDS.items():
        _add(sub, name, entry)
    return root


def command_paths() -> list[tuple[str, ...]]:
    """Every command as the words that run it: ("validate",), ("share", "scan"), ..."""
    paths: list[tuple[str, ...]] = []
    for name, entry in COMMANDS.items():
        paths.extend([(name, child) for child in entry[1]] if isinstance(entry, tuple) else [(name,)])
    return paths


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    # `--debug` is accepted anywhere before `--`, as the error messages suggest (`oslomig validate --debug`)
    end = args.index("--") if "--" in args else len(args)
    if "--debug" in args[:end]:
        _state["debug"] = True
        args = [a for i, a in enumerate(args) if not (a == "--debug" and i < end)]
    root = parser()
    ns = root.parse_args(args)
    run = getattr(ns, "_run", None)
    if run is None:  # `oslomig` or `oslomig share` alone: what there is to run
        ns._parser.print_help(sys.stderr)
        raise SystemExit(2)
    _run(lambda: run(ns))


def entry() -> None:
    """The `oslomig` program: main(), then a quick exit. The work is done and written by then (outputs are closed
    and renamed into place, databases committed, child processes joined); what the interpreter would still do is tear
    down every module and free every object, 0.25 s after `status` (numpy, pydantic, OR-Tools, Jinja). So the exit
    handlers run (atexit: pools, temporary directories, weakref finalizers), stdout and stderr are flushed, and the
    process ends with main's exit code. Tests that call main() in-process never reach this.

    numpy's OpenBLAS gets one thread, unless the user chose otherwise: with a thread a core it ran the share scan's
    product of header digits by powers of ten on both cores, twice the CPU for the same time, taken from `find` and
    SQLite (a million headers: 0.54 s of CPU instead of 0.28 s), and it started its threads at numpy's import."""
    import os

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        main()
    except SystemExit as done:
        code = done.code
    else:
        code = 0
    if code is not None and not isinstance(code, int):
        sys.stderr.write(f"{code}\n")  # as the interpreter does with SystemExit("text")
        code = 1
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away (`| head`): nothing left to tell it
            pass
    os._exit(code or 0)
