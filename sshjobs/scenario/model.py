"""The checked content of a scenario file, as plain data (no SSH object is built here).

Why a separate layer: every check that can be made without a network — unknown keys, wrong
types, a node without hostname, a requirement naming no job, cycles — is made here, with the
file, line and key of the culprit, before anything is constructed or started.

File format (a superset of apssh's ``YamlLoader`` format)::

    scheduler: {timeout: 60, window: 10, critical: true, verbose: false, label: demo}
    nodes:                      # a list of entries with an id (or a mapping id -> entry)
      - {id: gw, hostname: gw.example.org, username: me, port: 22}
      - {id: n1, hostname: 10.0.0.1, gateway: gw, keys: [~/.ssh/id_ed25519]}
      - {id: here, localnode: true}
    services:                   # sshjobs extension: long-running remote processes
      - {id: web, command: "python3 -m http.server", environ: {PORT: "8000"}}
    jobs:
      - id: j1
        node: n1
        required: [j0]          # ids, also of jobs defined further down
        forever: false
        commands:
          - {type: Run, command: "echo hello"}
          - {type: Service, service: web, action: start}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import ScenarioError
from .source import LineDict, line_of

COMMAND_TYPES = ("Run", "RunScript", "RunString", "Push", "Pull", "Service")
SERVICE_ACTIONS = ("start", "stop", "status", "journal")
FAILED_REQUIREMENT_POLICIES = ("run", "skip")
#: node keys apssh accepted but that mean nothing (``critical`` on a node)
IGNORED_NODE_KEYS = ("critical",)


@dataclass
class NodeSpec:
    """A node entry: an SSH host (``hostname``) or the local machine (``localnode``)."""

    id: str
    line: int
    hostname: str | None = None
    local: bool = False
    gateway: str | None = None
    username: str | None = None
    port: int | None = None
    keys: list[str] | None = None
    known_hosts: str | None = None
    host_key: str | None = None
    timeout: float | None = None
    formatter: str | None = None
    verbose: bool | None = None
    key_lines: dict[str, int] = field(default_factory=dict)


@dataclass
class CommandSpec:
    """A command entry: its class name, positional args, keyword args, and for ``Service``
    the service id and the action."""

    type: str
    line: int
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    key_lines: dict[str, int] = field(default_factory=dict)
    service: str | None = None
    action: str | None = None


@dataclass
class JobSpec:
    """A job entry: always an SshJob on ``node``, requiring the jobs named in ``required``."""

    id: str
    line: int
    node: str
    commands: list[CommandSpec]
    required: list[str] = field(default_factory=list)
    critical: bool | None = None
    forever: bool | None = None
    verbose: bool | None = None
    label: str | None = None
    keep_connection: bool | None = None
    #: per-attempt limit in seconds, extra attempts after a failure, and their base delay
    timeout: float | None = None
    retries: int | None = None
    backoff: float | None = None
    #: "run" (asynciojobs' default) or "skip" when a requirement failed
    on_failed_requirement: str | None = None
    key_lines: dict[str, int] = field(default_factory=dict)
    #: line of each name in ``required`` (a list may span several lines)
    required_lines: dict[str, int] = field(default_factory=dict)


@dataclass
class ServiceSpec:
    """A service entry, turned into an ``sshjobs.Service``."""

    id: str
    line: int
    command: str
    tty: bool = False
    systemd_type: str = "simple"
    environ: dict[str, str] | None = None
    stop_if_running: bool = True
    verbose: bool = False


@dataclass
class SchedulerSpec:
    """Options of the scheduler that runs all the jobs."""

    timeout: float | None = None
    jobs_window: int | None = None
    critical: bool | None = None
    verbose: bool | None = None
    label: str | None = None
    shutdown_timeout: float | None = None
    on_failed_requirement: str | None = None


@dataclass
class Scenario:
    """A whole scenario file, checked: ids are unique and every reference resolves."""

    filename: str
    scheduler: SchedulerSpec
    nodes: dict[str, NodeSpec]
    jobs: dict[str, JobSpec]
    services: dict[str, ServiceSpec] = field(default_factory=dict)


class Checker:
    """Type checks that raise ScenarioError pointing at ``where``'s line for ``key``."""

    def __init__(self, filename: str) -> None:
        self.filename = filename

    def fail(self, message: str, line: int | None, key: str | None = None) -> ScenarioError:
        return ScenarioError(message, filename=self.filename, line=line, key=key)

    def mapping(self, value: Any, what: str, line: int | None) -> LineDict:
        if not isinstance(value, dict):
            raise self.fail(f"{what} must be a mapping, not {kind_of(value)}", line_of(value, line))
        return value  # type: ignore[return-value]

    def keys(self, entry: LineDict, allowed: tuple[str, ...], what: str) -> None:
        for key in entry:
            if key not in allowed:
                raise self.fail(
                    f"unknown key in {what} (expected one of: {', '.join(allowed)})",
                    entry.line_of(key),
                    str(key),
                )

    def get(
        self,
        entry: LineDict,
        key: str,
        types: tuple[type, ...] | type,
        what: str,
        default: Any = None,
        convert: Callable[[Any], Any] | None = None,
    ) -> Any:
        if key not in entry or entry[key] is None:
            return default
        value = entry[key]
        types = types if isinstance(types, tuple) else (types,)
        # YAML booleans are ints in Python: never accept one where a number is meant
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            expected = " or ".join(t.__name__ for t in types)
            raise self.fail(
                f"{what}: expected {expected}, got {kind_of(value)}", entry.line_of(key), key
            )
        return convert(value) if convert else value

    def ident(self, entry: LineDict, what: str) -> str:
        if "id" not in entry:
            raise self.fail(f"{what} has no id", entry.line, "id")
        value = entry["id"]
        if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
            raise self.fail(f"{what} id must be a non-empty string", entry.line_of("id"), "id")
        return str(value)

    def str_list(self, entry: LineDict, key: str, what: str) -> list[str] | None:
        value = entry.get(key)
        if value is None:
            return None
        items = [value] if isinstance(value, (str, int)) and not isinstance(value, bool) else value
        if not isinstance(items, list) or not all(
            isinstance(i, (str, int)) and not isinstance(i, bool) for i in items
        ):
            raise self.fail(f"{what}: expected a name or a list of names", entry.line_of(key), key)
        return [str(i) for i in items]


def kind_of(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"
