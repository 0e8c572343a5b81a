"""The data model: every file kind oslomig reads (SPEC §2–§5), in one place.

The models are strict about keys (a typo is an error with a hint) and lax
about scalars only where YAML makes them ambiguous (a version written as
15.0 is still the string "15.0"). Cross-references are checked in
`oslomig.validation`, not here, because they span files.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from oslomig.sshconn import KNOWN_HOSTS, TIMEOUT_S

Engine = Literal["sqlserver", "oracle", "postgres"]
Environment = Literal["prod", "test", "dev", "staging", "other"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
BindRule = Literal["instance", "host", "cluster", "availability_group", "links"]
DEFAULT_BIND: tuple[BindRule, ...] = ("instance", "host", "cluster", "availability_group")
Action = Literal["migrate", "review", "skip"]


def _number_as_text(value):
    # `version: 15.0` or `name: 2021` are numbers to YAML and text to us
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_number_as_text)]
Id = Annotated[str, BeforeValidator(_number_as_text), Field(min_length=1)]
HHMM = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="local time HH:MM")]

# Dates and times a migration can mean (SPEC §8: what validate accepts also runs). Years outside this range are typos
# (9999-12-31) that would overflow date arithmetic later; the schema says the same with a pattern.
MIN_YEAR, MAX_YEAR = 1970, 2199
_YEAR = r"(19[7-9][0-9]|2[01][0-9][0-9])"
_DAY = rf"{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
DATE_PATTERN = rf"^{_DAY}$"
LOCAL_DATETIME_PATTERN = rf"^{_DAY}T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?(Z|[+-][01][0-9]:[0-5][0-9])?$"


def _date_text(value):
    # YAML 1.2 keeps 2021-05-04 a string; a date or datetime object (from Python callers) is fine as it is
    if not isinstance(value, (str, dt.date)):
        raise ValueError(f"expected a date like 2021-05-04, not {value!r}")
    return value


def _in_years(value):
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"the year {value.year} is outside {MIN_YEAR}-{MAX_YEAR}")
    return value


Date = Annotated[
    dt.date, BeforeValidator(_date_text), AfterValidator(_in_years), Field(json_schema_extra={"pattern": DATE_PATTERN})
]
LocalDateTime = Annotated[
    dt.datetime,
    BeforeValidator(_date_text),
    AfterValidator(_in_years),
    Field(json_schema_extra={"format": None, "pattern": LOCAL_DATETIME_PATTERN}),
]


@cache
def _data_list(name: str) -> tuple[str, ...]:
    text = resources.files("oslomig").joinpath("data", name).read_text(encoding="utf-8")
    return tuple(line for line in text.splitlines() if line)


def known_timezones() -> tuple[str, ...]:
    """IANA zone names (frozen from tzdata, so the schema does not drift with the installed version)."""
    return _data_list("timezones.txt")


def holiday_countries() -> tuple[str, ...]:
    return _data_list("holiday_countries.txt")


def _timezone_schema(schema: dict) -> None:
    schema["enum"] = list(known_timezones())


def _holidays_schema(schema: dict) -> None:
    schema["pattern"] = "^(" + "|".join(holiday_countries()) + r")(-[A-Z0-9]{1,3})?$"


def _check_timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: `Europe` is a tzdata folder, not a zone
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Oslo)") from None
    return value


TimeZone = Annotated[str, AfterValidator(_check_timezone), Field(json_schema_extra=_timezone_schema)]


def _strip_null_format(schema: dict) -> None:
    # `"format": None` in json_schema_extra means "drop the format pydantic gave it"
    for key, value in list(schema.items()):
        if value is None and key == "format":
            del schema[key]
        elif isinstance(value, dict):
            _strip_null_format(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    _strip_null_format(item)


class Model(BaseModel):
    # no NaN or infinity anywhere: JSON cannot hold them and no rule of ours means them
    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True, allow_inf_nan=False)


# ---------------------------------------------------------------- inventory (§2)


class Contact(Model):
    name: Text
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    phone: Optional[Text] = None
    role: Optional[Text] = None


class Source(Model):
    """Written by scanners: where and when a file's facts came from."""

    scanned_at: Text
    target: Text
    tool_version: Text


class Agency(Model):
    id: Id
    name: Optional[Text] = None
    contacts: list[Contact] = Field(default_factory=list)


class System(Model):
    id: Id
    name: Optional[Text] = None
    agency: Optional[Id] = None
    criticality: Optional[Literal["low", "medium", "high"]] = None
    contacts: list[Contact] = Field(default_factory=list)
    databases: list[Id] = Field(default_factory=list, description="database ids or globs this system owns")
    depends_on: list[Id] = Field(default_factory=list)


class Disk(Model):
    mount: Text
    size_gb: float = Field(ge=0)
    free_gb: Optional[float] = Field(default=None, ge=0)
    fstype: Optional[Text] = None


class InstalledSqlInstance(Model):
    """A SQL Server instance installed on a Windows host, as its service and registry say (inventory scan)."""

    name: Text
    version: Optional[Text] = None
    edition: Optional[Text] = None
    port: Optional[int] = Field(default=None, ge=1, le=65535)
    state: Optional[Text] = None


class Host(Model):
    name: Id
    fqdn: Optional[Text] = None
    os: Optional[Literal["windows", "linux", "aix", "solaris", "other"]] = None
    os_version: Optional[Text] = None
    site: Optional[Text] = None
    cluster: Optional[Id] = None
    vm: Optional[bool] = None
    cpu_count: Optional[int] = Field(default=None, ge=0)
    memory_gb: Optional[float] = Field(default=None, ge=0)
    disks: list[Disk] = Field(default_factory=list)
    listening_ports: list[int] = Field(default_factory=list)
    sql_instances: list[InstalledSqlInstance] = Field(
        default_factory=list, description="Windows hosts: SQL Server instances installed (services), scanned"
    )


class Replica(Model):
    server: Text
    role: Optional[Text] = None
    availability_mode: Optional[Text] = None


class AvailabilityGroup(Model):
    name: Text
    replicas: list[Replica] = Field(default_factory=list)


class LinkedServer(Model):
    name: Text
    product: Optional[Text] = None
    data_source: Optional[Text] = None


class Instance(Model):
    id: Id
    engine: Engine
    host: Optional[Id] = None
    hosts: Optional[list[Id]] = None
    name: Optional[Text] = None
    version: Optional[Text] = None
    edition: Optional[Text] = None
    port: Optional[int] = Field(default=None, ge=1, le=65535)
    clustered: Optional[bool] = None
    hadr_enabled: Optional[bool] = None
    availability_groups: list[AvailabilityGroup] = Field(default_factory=list)
    linked_servers: list[LinkedServer] = Field(default_factory=list)
    data_guard_partners: list[Text] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_host_key(self):
        if self.host is None and not self.hosts:
            raise ValueError("an instance needs `host` or `hosts`")
        if self.host is not None and self.hosts:
            raise ValueError("give `host` or `hosts`, not both")
        return self

    @property
    def all_hosts(self) -> list[str]:
        return [self.host] if self.host is not None else list(self.hosts or [])


class Database(Model):
    id: Id
    name: Optional[Text] = None
    instance: Id
    size_gb: float = Field(default=0.0, ge=0, le=1e7, description="GB (at most 10 PB)")
    environment: Optional[Environment] = None
    availability_group: Optional[Id] = None
    links: list[Id] = Field(default_factory=list)
    state: Optional[Text] = None
    recovery_model: Optional[Text] = None
    compatibility_level: Optional[int] = None
    role: Optional[Text] = None
    log_mode: Optional[Text] = None
    pdbs: list[Text] = Field(default_factory=list)


class Share(Model):
    id: Id
    host: Id
    path: Text
    agency: Optional[Id] = None


class InventoryFile(Model):
    """One file of an inventory: any of the top-level lists; files are merged."""

    source: Optional[Source] = None
    agencies: list[Agency] = Field(default_factory=list)
    systems: list[System] = Field(default_factory=list)
    hosts: list[Host] = Field(default_factory=list)
    instances: list[Instance] = Field(default_factory=list)
    databases: list[Database] = Field(default_factory=list)
    shares: list[Share] = Field(default_factory=list)


# ---------------------------------------------------------- database plan (§3)


class Period(Model):
    start: Date
    end: Date


class Scope(Model):
    engines: list[Engine] = Field(default_factory=list)
    agencies: list[Id] = Field(default_factory=list)
    systems: list[Id] = Field(default_factory=list)
    exclude: list[Id] = Field(default_factory=list, description="database, instance or host ids")


class Grouping(Model):
    bind: list[BindRule] = list(DEFAULT_BIND)
    systems: bool = False


class Timing(Model):
    throughput_gb_per_hour: float = Field(default=200.0, ge=0.01, le=1e6)
    overhead_hours: float = Field(default=1.0, ge=0, le=168)


class Window(Model):
    # hours, parallel and max_groups are checked by `validate` (code bad-window) so one mistake does not hide the
    # plan's other problems; the schema states the same bounds for editors
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["weekdays"], "properties": {"weekdays": {"minItems": 1}}},
                {"required": ["dates"], "properties": {"dates": {"minItems": 1}}},
            ]
        }
    )
    name: Id
    weekdays: list[Weekday] = Field(default_factory=list)
    dates: list[Date] = Field(default_factory=list)
    start: HHMM
    hours: float = Field(json_schema_extra={"exclusiveMinimum": 0, "maximum": 168})
    parallel: int = Field(default=1, le=1000, json_schema_extra={"minimum": 1})
    max_groups: Optional[int] = Field(default=None, le=100_000, json_schema_extra={"minimum": 1})
    engines: list[Engine] = Field(default_factory=list)


class Blackout(Model):
    name: Id
    from_: Optional[Date] = Field(default=None, alias="from")
    to: Optional[Date] = None
    monthly_days: list[Annotated[int, Field(ge=1, le=31)]] = Field(default_factory=list)
    weekdays: list[Weekday] = Field(default_factory=list)
    holidays: Optional[
        Annotated[str, Field(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$", json_schema_extra=_holidays_schema)]
    ] = None
    systems: list[Id] = Field(default_factory=list)
    agencies: list[Id] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_rule(self):
        rules = [
            self.from_ is not None or self.to is not None,
            bool(self.monthly_days),
            bool(self.weekdays),
            self.holidays is not None,
        ]
        if sum(rules) != 1:
            raise ValueError("a blackout needs exactly one of: from/to, monthly_days, weekdays, holidays")
        if (self.from_ is None) != (self.to is None):
            raise ValueError("a date-range blackout needs both `from` and `to`")
        return self


class Announced(Model):
    database: Id
    start: LocalDateTime = Field(description="local time in the plan's timezone, e.g. 2021-05-11T18:00")


class Outcome(Model):
    """What happened in a window (`oslomig record`, SPEC §3.2)."""

    databases: list[Id] = Field(min_length=1)
    start: LocalDateTime
    status: Literal["done", "failed", "postponed"]
    at: Optional[LocalDateTime] = None
    note: Optional[Text] = None


class Constraint(Model):
    """An owner's answer (SPEC §3.2): for the groups touching these systems or agencies."""

    systems: list[Id] = Field(default_factory=list)
    agencies: list[Id] = Field(default_factory=list)
    not_before: Optional[Date] = None
    not_after: Optional[Date] = Field(default=None, description="a deadline: the group's window must end by this day")
    windows: list[Id] = Field(default_factory=list, description="only these windows")
    max_per_occurrence: Optional[int] = Field(
        default=None, ge=1, le=10000, description="at most this many of these groups in one window occurrence"
    )
    note: Optional[Text] = None

    @model_validator(mode="after")
    def _names_and_rule(self):
        if not self.systems and not self.agencies:
            raise ValueError("a constraint names `systems` or `agencies`")
        if self.not_before is None and self.not_after is None and not self.windows and self.max_per_occurrence is None:
            raise ValueError("a constraint needs `not_before`, `not_after`, `windows` or `max_per_occurrence`")
        if self.not_before and self.not_after and self.not_after < self.not_before:
            raise ValueError("`not_after` is before `not_before`")
        return self

    def label(self) -> str:
        who = ", ".join([*self.systems, *self.agencies])
        return f"owner constraint ({who})"


class DatabasePlan(Model):
    kind: Literal["database-migration"]
    name: Text
    inventory: Optional[Text] = None
    timezone: TimeZone = "Europe/Oslo"
    period: Period
    scope: Scope = Scope()
    grouping: Grouping = Grouping()
    timing: Timing = Timing()
    notice_days: int = Field(default=14, ge=0, le=3650)
    test_before_prod_days: int = Field(default=7, ge=0, le=3650)
    windows: list[Window] = Field(default_factory=list)
    blackouts: list[Blackout] = Field(default_factory=list)
    announced: list[Announced] = Field(default_factory=list)
    migrated: list[Id] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(default_factory=list)
    constraints: list[Constraint] = Field(default_factory=list)
    coordinate_with: list[Text] = Field(
        default_factory=list,
        description="other plans (paths relative to this file) whose announced and migrated groups are theirs",
    )
    team_contact: Optional[Text] = Field(
        default=None, description="how owners reach the migration team, named in every notice (e.g. an address)"
    )


# ------------------------------------------------------------ scan targets (§4)

_ONE_SECRET: Any = {"oneOf": [{"required": ["password_env"]}, {"required": ["password_file"]}]}


class _Secret(Model):
    model_config = ConfigDict(json_schema_extra=_ONE_SECRET)
    password_env: Optional[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]] = None
    password_file: Optional[Text] = None

    @model_validator(mode="after")
    def _one_secret(self):
        if (self.password_env is None) == (self.password_file is None):
            raise ValueError("give exactly one of `password_env` or `password_file` (passwords never go in this file)")
        return self


class SqlServerTarget(_Secret):
    name: Id
    host_id: Optional[Id] = Field(
        default=None, description="the inventory host this server runs on; default: the short host name"
    )
    server: Text
    port: Optional[int] = Field(default=1433, ge=1, le=65535)
    driver: Text = "ODBC Driver 18 for SQL Server"
    username: Text
    encrypt: Optional[bool] = None
    trust_server_certificate: bool = False
    timeout_s: float = Field(default=30, gt=0, le=86400)


class OracleTarget(_Secret):
    name: Id
    host_id: Optional[Id] = Field(
        default=None, description="the inventory host this server runs on; default: the short host name"
    )
    dsn: Text
    username: Text
    thick_mode: bool = False
    timeout_s: float = Field(default=30, gt=0, le=86400)


class PostgresTarget(_Secret):
    name: Id
    host_id: Optional[Id] = Field(
        default=None, description="the inventory host this server runs on; default: the short host name"
    )
    host: Text
    port: int = Field(default=5432, ge=1, le=65535)
    driver: Text = "PostgreSQL Unicode"
    database: Text = "postgres"
    username: Text
    sslmode: Optional[Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]] = None
    timeout_s: float = Field(default=30, gt=0, le=86400)


class HostTarget(Model):
    name: Id
    host: Text
    port: int = Field(default=22, ge=1, le=65535)
    username: Text
    key_file: Optional[Text] = None
    password_env: Optional[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]] = None
    known_hosts: Text = KNOWN_HOSTS
    accept_new_host_key: bool = False
    timeout_s: float = Field(default=TIMEOUT_S, gt=0, le=86400)
    os: Optional[Literal["windows", "posix"]] = Field(
        default=None,
        description="windows: inventoried with PowerShell over SSH; posix: with sh; default: asked of the host",
    )

    @model_validator(mode="after")
    def _auth(self):
        if self.key_file is None and self.password_env is None:
            raise ValueError("a host target needs `key_file` (or `password_env`)")
        return self


class ScanTargets(Model):
    kind: Literal["scan-targets"]
    sqlserver: list[SqlServerTarget] = Field(default_factory=list)
    oracle: list[OracleTarget] = Field(default_factory=list)
    postgres: list[PostgresTarget] = Field(default_factory=list)
    hosts: list[HostTarget] = Field(default_factory=list)


# -------------------------------------------------------------- share plan (§5)


class SharePolicy(Model):
    stale_after_years: float = Field(default=5, gt=0, le=100)
    stale_action: Action = "review"
    junk: list[Text] = ["Thumbs.db", "desktop.ini", ".DS_Store", "~$*", "*.tmp"]
    duplicates: Action = "review"
    invalid_chars: Literal["replace", "review"] = "replace"
    replacement: Annotated[str, Field(min_length=1, max_length=1, pattern=r'^[^"*:<>?\\|/]$')] = "_"


class Target(Model):
    site: Annotated[str, Field(pattern=r"^https://[^/\s]+(/[^\s]*)?$")]
    library: Text = "Documents"
    library_url: Optional[Text] = None
    folder: Text = ""


class Route(Model):
    match: Text
    action: Optional[Literal["skip"]] = None
    target: Optional[Target] = None

    @model_validator(mode="after")
    def _does_something(self):
        if self.action is None and self.target is None:
            raise ValueError("a route needs `action` or `target`")
        return self


class SshOptions(Model):
    """How to reach an ssh:// share (host keys are always checked)."""

    key_file: Optional[Text] = None
    known_hosts: Text = KNOWN_HOSTS
    accept_new_host_key: bool = False
    timeout_s: float = Field(default=TIMEOUT_S, gt=0, le=86400)


class ShareSpec(Model):
    id: Id
    source: Text
    spmt_source: Optional[Text] = Field(
        default=None,
        description="the path the SharePoint Migration Tool reads, e.g. \\\\filsrv01\\INE\\Felles; default: source",
    )
    agency: Optional[Id] = None
    department: Optional[Text] = None
    contact: Optional[Contact] = None
    target: Target
    read_only_from: Optional[Date] = None
    delete_after_days: int = Field(default=90, ge=0, le=3650)
    routes: list[Route] = Field(default_factory=list)
    ssh: Optional[SshOptions] = None
    staging: Optional[Text] = Field(
        default=None,
        description="hard-link staging root on the share's volume, in the source's path space (SPEC §5.2), "
        "e.g. /srv/shares/INE/.staging/ine-felles; relative paths are relative to the plan file",
    )
    staging_unc: Optional[Text] = Field(
        default=None,
        description="what the SharePoint Migration Tool reads for the staging root (UNC); default: derived from "
        "staging, source and spmt_source when the staging root lies in the same Windows share",
    )
    password_env: Optional[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]] = Field(
        default=None, description="smb:// sources: the environment variable holding the password"
    )
    password_file: Optional[Text] = Field(
        default=None, description="smb:// sources: a file holding the password (one line)"
    )
    smb_timeout_s: float = Field(default=30, gt=0, le=86400, description="smb:// sources: connection timeout")

    @model_validator(mode="after")
    def _smb_defaults(self):
        """An smb:// source: SPMT reads the same folder by its UNC path, unless `spmt_source` says otherwise."""
        if self.source.startswith("smb://") and self.spmt_source is None:
            from oslomig.smburl import parse_smb_url

            try:
                self.spmt_source = parse_smb_url(self.source).unc()
            except ValueError:
                pass  # validate reports the malformed URL with its position
        return self


class SharePlan(Model):
    kind: Literal["share-migration"]
    name: Text
    timezone: TimeZone = "Europe/Oslo"
    inventory: Optional[Text] = None
    policy: SharePolicy = SharePolicy()
    shares: list[ShareSpec]


KINDS: dict[str, type[Model]] = {
    "database-migration": DatabasePlan,
    "share-migration": SharePlan,
    "scan-targets": ScanTargets,
}
# `oslomig schema NAME` names (SPEC §1) to models
SCHEMA_NAMES: dict[str, type[Model]] = {
    "plan": DatabasePlan,
    "share-plan": SharePlan,
    "scan-targets": ScanTargets,
    "inventory": InventoryFile,
}
