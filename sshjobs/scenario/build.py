"""Build the real objects (nodes, services, SshJobs, one Scheduler) from a checked Scenario.

Everything that could be checked on data was checked by :mod:`.model`; what is left here are
errors only the library can detect (a key file that does not load, a keyword a command class
does not accept). They are turned into the same ``file:line: key: problem`` ScenarioError.
Nothing connects: nodes connect lazily when the scheduler runs.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import formatters
from ..commands import Run, RunScript, RunString
from ..transfer import Pull, Push
from .errors import ScenarioError
from .model import CommandSpec, JobSpec, NodeSpec, Scenario

logger = logging.getLogger("sshjobs.scenario")

#: the classes of the command types of a scenario (a Service's commands come from its service)
_COMMAND_CLASSES: dict[str, Any] = {
    "Run": Run,
    "RunScript": RunScript,
    "RunString": RunString,
    "Push": Push,
    "Pull": Pull,
}

#: apssh's formatter names before 0.24.0
_FORMATTER_ALIASES = {"ColonFormatter": "HostFormatter", "TimeColonFormatter": "TimeHostFormatter"}


@dataclass
class NodeDefaults:
    """Values the caller (the command line) applies to nodes that do not set their own: the
    scenario file wins over these, these win over the library's defaults."""

    keys: list[str] | None = None
    known_hosts: str | None = None
    host_key: str | None = None
    timeout: float | None = None
    #: ``formatter(node_id)`` gives each node its own formatter (None: library default)
    formatter: Callable[[str], Any] | None = None
    #: use ``formatter`` even for nodes naming one in the file (the command line's output
    #: modes need every line)
    force_formatter: bool = False
    verbose: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Built:
    """What a scenario builds to: maps by id, and the scheduler holding every job."""

    nodes: dict[str, Any]
    jobs: dict[str, Any]
    services: dict[str, Any]
    scheduler: Any


def _error(
    scenario: Scenario, message: str, line: int, key: str | None, cause: BaseException | None = None
) -> ScenarioError:
    error = ScenarioError(message, filename=scenario.filename, line=line, key=key)
    error.__cause__ = cause
    return error


def _formatter(scenario: Scenario, spec: NodeSpec) -> Any:
    name = _FORMATTER_ALIASES.get(spec.formatter or "", spec.formatter or "")
    cls = getattr(formatters, name, None)
    if not isinstance(cls, type) or not name.endswith("Formatter"):
        raise _error(
            scenario,
            f"node '{spec.id}': unknown formatter '{spec.formatter}'",
            spec.key_lines.get("formatter", spec.line),
            "formatter",
        )
    kwds = {"verbose": spec.verbose} if spec.verbose is not None else {}
    try:
        return cls(**kwds)
    except TypeError as exc:
        raise _error(
            scenario,
            f"node '{spec.id}': formatter {name} needs arguments: {exc}",
            spec.key_lines.get("formatter", spec.line),
            "formatter",
            exc,
        ) from exc


def _node_kwds(scenario: Scenario, spec: NodeSpec, defaults: NodeDefaults) -> dict[str, Any]:
    """Keyword arguments of SshNode/LocalNode: the file's values, else the caller's."""
    kwds: dict[str, Any] = {}
    if defaults.formatter is not None and (defaults.force_formatter or not spec.formatter):
        kwds["formatter"] = defaults.formatter(spec.id)
    elif spec.formatter:
        kwds["formatter"] = _formatter(scenario, spec)
    verbose = spec.verbose if spec.verbose is not None else defaults.verbose
    if verbose is not None:
        kwds["verbose"] = verbose
    if spec.local:
        return kwds
    keys = spec.keys if spec.keys is not None else defaults.keys
    known_hosts = spec.known_hosts or defaults.known_hosts
    values = {
        "username": spec.username,
        "port": spec.port,
        "keys": [os.path.expanduser(key) for key in keys] if keys else None,
        "known_hosts": os.path.expanduser(known_hosts) if known_hosts else None,
        "host_keys": spec.host_key or defaults.host_key,
        "timeout": spec.timeout if spec.timeout is not None else defaults.timeout,
    }
    kwds.update({key: value for key, value in values.items() if value is not None})
    kwds.update(defaults.extra)
    return kwds


def _accepts(cls: Any, key: str) -> bool:
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return True
    return key in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def build_nodes(scenario: Scenario, defaults: NodeDefaults) -> dict[str, Any]:
    """SshNode / LocalNode objects by id, gateways built before the nodes behind them."""
    from ..localnode import LocalNode
    from ..node import SshNode

    nodes: dict[str, Any] = {}

    def build(spec: NodeSpec) -> Any:
        if spec.id in nodes:
            return nodes[spec.id]
        kwds = _node_kwds(scenario, spec, defaults)
        cls = LocalNode if spec.local else SshNode
        for key in list(kwds):
            if not _accepts(cls, key):
                if key in defaults.extra or (key == "host_keys" and not spec.host_key):
                    kwds.pop(key)  # a caller default this library version does not know
                    continue
                file_key = "host_key" if key == "host_keys" else key
                raise _error(
                    scenario,
                    f"node '{spec.id}': {cls.__name__} has no '{key}' option",
                    spec.key_lines.get(file_key, spec.line),
                    file_key,
                )
        node: Any
        try:
            if spec.local:
                node = LocalNode(**kwds)
            else:
                gateway = build(scenario.nodes[spec.gateway]) if spec.gateway else None
                node = SshNode(str(spec.hostname), gateway=gateway, **kwds)
                node.options.resolved  # noqa: B018  a key file that does not load: now, on its line
        except ScenarioError:
            raise
        except Exception as exc:  # a key file that does not load, a bad value...
            from sshjobs.errors import KeyLoadError

            at_keys = isinstance(exc, KeyLoadError) and "keys" in spec.key_lines
            line = spec.key_lines["keys"] if at_keys else spec.line
            raise _error(
                scenario, f"node '{spec.id}': {exc}", line, "keys" if at_keys else None, exc
            ) from exc
        node.monitor_name = spec.id  # the monitor and the run report show the file's node ids
        nodes[spec.id] = node
        return node

    for spec in scenario.nodes.values():
        build(spec)
    return nodes


def build_services(scenario: Scenario) -> dict[str, Any]:
    """Service objects by id."""
    from sshjobs.service import Service

    return {
        spec.id: Service(
            spec.command,
            service_id=spec.id,
            tty=spec.tty,
            systemd_type=spec.systemd_type,
            environ=spec.environ,
            stop_if_running=spec.stop_if_running,
            verbose=spec.verbose,
        )
        for spec in scenario.services.values()
    }


def build_command(
    scenario: Scenario, job: JobSpec, spec: CommandSpec, services: dict[str, Any]
) -> Any:
    """One command object; a keyword the class does not take is an error on its line."""
    kwargs = dict(spec.kwargs)
    if spec.type == "Service":
        service = services[str(spec.service)]
        method = getattr(service, f"{spec.action}_command")
        target: Any = method

        def make() -> Any:
            return method(**kwargs)
    else:
        target = _COMMAND_CLASSES[spec.type]

        def make() -> Any:
            return target(*spec.args, **kwargs)

    for key in kwargs:
        if not _accepts(target, key):
            raise _error(
                scenario,
                f"job '{job.id}': {spec.type} has no '{key}' option",
                spec.key_lines.get(key, spec.line),
                key,
            )
    try:
        return make()
    except ScenarioError:
        raise
    except Exception as exc:
        raise _error(
            scenario, f"job '{job.id}': cannot build {spec.type}: {exc}", spec.line, None, exc
        ) from exc


def build(scenario: Scenario, defaults: NodeDefaults | None = None) -> Built:
    """Build every object of ``scenario``; nothing is started."""
    from asynciojobs import Scheduler

    from ..job import SshJob

    defaults = defaults or NodeDefaults()
    nodes = build_nodes(scenario, defaults)
    services = build_services(scenario)
    jobs: dict[str, Any] = {}
    for spec in scenario.jobs.values():
        commands = [build_command(scenario, spec, command, services) for command in spec.commands]
        flags: dict[str, Any] = {
            "critical": spec.critical,
            "forever": spec.forever,
            "verbose": spec.verbose,
            "keep_connection": spec.keep_connection,
            "timeout": spec.timeout,
            "retries": spec.retries,
            "backoff": spec.backoff,
            "on_failed_requirement": spec.on_failed_requirement,
        }
        kwds = {key: value for key, value in flags.items() if value is not None}
        # no default label: graphs and lists then show the node and the commands
        job = SshJob(nodes[spec.node], commands=commands, label=spec.label, **kwds)
        job.scenario_id = spec.id  # type: ignore[attr-defined]
        jobs[spec.id] = job
    for spec in scenario.jobs.values():
        jobs[spec.id].requires(*(jobs[name] for name in spec.required))
    options = scenario.scheduler
    sched_kwds: dict[str, Any] = {"jobs_window": options.jobs_window, "timeout": options.timeout}
    for key in ("critical", "verbose", "label", "shutdown_timeout", "on_failed_requirement"):
        value = getattr(options, key)
        if value is not None:
            sched_kwds[key] = value
    scheduler = Scheduler(*jobs.values(), **sched_kwds)
    logger.debug("scenario %s: %d node(s), %d job(s)", scenario.filename, len(nodes), len(jobs))
    return Built(nodes, jobs, services, scheduler)
