"""The data model: every file kind oslomig reads (SPEC §2–§5), in one place.

The models are strict about keys (a typo is an error with a hint) and lax
about scalars only where YAML makes them ambiguous (a version written as
15.0 is still the string "15.0"). Cross-references are checked in
`oslomig.validation`, not here, because they span files.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

Engine = Literal["sqlserver", "oracle", "postgres"]
Environment = Literal["prod", "test", "dev", "staging", "other"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
BindRule = Literal["instance", "host", "cluster", "availability_group", "links"]
DEFAULT_BIND: tuple[str, ...] = ("instance", "host", "cluster", "availability_group")
Action = Literal["migrate", "review", "skip"]


def _number_as_text(value):
    # `version: 15.0` or `name: 2021` are numbers to YAML and text to us
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_number_as_text)]
Id = Annotated[str, BeforeValidator(_number_as_text), Field(min_length=1)]
HHMM = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="local time HH:MM")]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)


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
    contacts: list[Contact] = []


class System(Model):
    id: Id
    name: Optional[Text] = None
    agency: Optional[Id] = None
    criticality: Optional[Literal["low", "medium", "high"]] = None
    contacts: list[Contact] = []
    databases: list[Id] = Field(default=[], description="database ids or globs this system owns")
    depends_on: list[Id] = []


class Disk(Model):
    mount: Text
    size_gb: float = Field(ge=0)
    free_gb: Optional[float] = Field(default=None, ge=0)
    fstype: Optional[Text] = None


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
    disks: list[Disk] = []
    listening_ports: list[int] = []


class Replica(Model):
    server: Text
    role: Optional[Text] = None
    availability_mode: Optional[Text] = None


class AvailabilityGroup(Model):
    name: Text
    replicas: list[Replica] = []


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
    availability_groups: list[AvailabilityGroup] = []
    linked_servers: list[LinkedServer] = []
    data_guard_partners: list[Text] = []

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
    size_gb: float = Field(default=0.0, ge=0)
    environment: Optional[Environment] = None
    availability_group: Optional[Id] = None
    links: list[Id] = []
    state: Optional[Text] = None
    recovery_model: Optional[Text] = None
    compatibility_level: Optional[int] = None
    role: Optional[Text] = None
    log_mode: Optional[Text] = None
    pdbs: list[Text] = []


class Share(Model):
    id: Id
    host: Id
    path: Text
    agency: Optional[Id] = None


class InventoryFile(Model):
    """One file of an inventory: any of the top-level lists; files are merged."""

    source: Optional[Source] = None
    agencies: list[Agency] = []
    systems: list[System] = []
    hosts: list[Host] = []
    instances: list[Instance] = []
    databases: list[Database] = []
    shares: list[Share] = []


# ---------------------------------------------------------- database plan (§3)

class Period(Model):
    start: dt.date
    end: dt.date


class Scope(Model):
    engines: list[Engine] = []
    agencies: list[Id] = []
    systems: list[Id] = []
    exclude: list[Id] = Field(default=[], description="database, instance or host ids")


class Grouping(Model):
    bind: list[BindRule] = list(DEFAULT_BIND)
    systems: bool = False


class Timing(Model):
    throughput_gb_per_hour: float = Field(default=200.0, gt=0)
    overhead_hours: float = Field(default=1.0, ge=0)


class Window(Model):
    name: Id
    weekdays: list[Weekday] = []
    dates: list[dt.date] = []
    start: HHMM
    hours: float
    parallel: int = 1
    max_groups: Optional[int] = None
    engines: list[Engine] = []


class Blackout(Model):
    name: Id
    from_: Optional[dt.date] = Field(default=None, alias="from")
    to: Optional[dt.date] = None
    monthly_days: list[Annotated[int, Field(ge=1, le=31)]] = []
    weekdays: list[Weekday] = []
    holidays: Optional[Annotated[str, Field(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")]] = None
    systems: list[Id] = []
    agencies: list[Id] = []

    @model_validator(mode="after")
    def _one_rule(self):
        rules = [self.from_ is not None or self.to is not None, bool(self.monthly_days), bool(self.weekdays), self.holidays is not None]
        if sum(rules) != 1:
            raise ValueError("a blackout needs exactly one of: from/to, monthly_days, weekdays, holidays")
        if (self.from_ is None) != (self.to is None):
            raise ValueError("a date-range blackout needs both `from` and `to`")
        return self


class Announced(Model):
    database: Id
    start: dt.datetime = Field(description="local time in the plan's timezone, e.g. 2021-05-11T18:00")


class DatabasePlan(Model):
    kind: Literal["database-migration"]
    name: Text
    inventory: Optional[Text] = None
    timezone: Text = "Europe/Oslo"
    period: Period
    scope: Scope = Scope()
    grouping: Grouping = Grouping()
    timing: Timing = Timing()
    notice_days: int = Field(default=14, ge=0)
    test_before_prod_days: int = Field(default=7, ge=0)
    windows: list[Window] = []
    blackouts: list[Blackout] = []
    announced: list[Announced] = []
    migrated: list[Id] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name such as Europe/Oslo)") from None
        return v


# ------------------------------------------------------------ scan targets (§4)

class _Secret(Model):
    password_env: Optional[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]] = None
    password_file: Optional[Text] = None

    @model_validator(mode="after")
    def _one_secret(self):
        if (self.password_env is None) == (self.password_file is None):
            raise ValueError("give exactly one of `password_env` or `password_file` (passwords never go in this file)")
        return self


class SqlServerTarget(_Secret):
    name: Id
    host_id: Optional[Id] = Field(default=None, description="the inventory host this server runs on; default: the short host name")
    server: Text
    port: Optional[int] = Field(default=1433, ge=1, le=65535)
    driver: Text = "ODBC Driver 18 for SQL Server"
    username: Text
    encrypt: Optional[bool] = None
    trust_server_certificate: bool = False
    timeout_s: float = Field(default=30, gt=0)


class OracleTarget(_Secret):
    name: Id
    host_id: Optional[Id] = Field(default=None, description="the inventory host this server runs on; default: the short host name")
    dsn: Text
    username: Text
    thick_mode: bool = False
    timeout_s: float = Field(default=30, gt=0)


class PostgresTarget(_Secret):
    name: Id
    host_id: Optional[Id] = Field(default=None, description="the inventory host this server runs on; default: the short host name")
    host: Text
    port: int = Field(default=5432, ge=1, le=65535)
    driver: Text = "PostgreSQL Unicode"
    database: Text = "postgres"
    username: Text
    sslmode: Optional[Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]] = None
    timeout_s: float = Field(default=30, gt=0)


class HostTarget(Model):
    name: Id
    host: Text
    port: int = Field(default=22, ge=1, le=65535)
    username: Text
    key_file: Optional[Text] = None
    password_env: Optional[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]] = None
    known_hosts: Text = "~/.ssh/known_hosts"
    accept_new_host_key: bool = False
    timeout_s: float = Field(default=30, gt=0)

    @model_validator(mode="after")
    def _auth(self):
        if self.key_file is None and self.password_env is None:
            raise ValueError("a host target needs `key_file` (or `password_env`)")
        return self


class ScanTargets(Model):
    kind: Literal["scan-targets"]
    sqlserver: list[SqlServerTarget] = []
    oracle: list[OracleTarget] = []
    postgres: list[PostgresTarget] = []
    hosts: list[HostTarget] = []


# -------------------------------------------------------------- share plan (§5)

class SharePolicy(Model):
    stale_after_years: float = Field(default=5, gt=0)
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
    known_hosts: Text = "~/.ssh/known_hosts"
    accept_new_host_key: bool = False
    timeout_s: float = Field(default=30, gt=0)


class ShareSpec(Model):
    id: Id
    source: Text
    spmt_source: Optional[Text] = Field(default=None, description="the path the SharePoint Migration Tool reads, e.g. \\\\filsrv01\\INE\\Felles; default: source")
    agency: Optional[Id] = None
    department: Optional[Text] = None
    contact: Optional[Contact] = None
    target: Target
    read_only_from: Optional[dt.date] = None
    delete_after_days: int = Field(default=90, ge=0)
    routes: list[Route] = []
    ssh: Optional[SshOptions] = None


class SharePlan(Model):
    kind: Literal["share-migration"]
    name: Text
    timezone: Text = "Europe/Oslo"
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
