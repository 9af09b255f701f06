"""Parsers for each section of a scenario file (scheduler, nodes, services, jobs, commands),
the final pass that resolves references between them (gateways, requirements, services), and
:func:`parse_scenario` running them all. (:mod:`.model` holds the data; this module uses it,
never the other way round.)

Every function takes the ``Checker`` of :mod:`.model`, so that each error names the file, the
line and the key.
"""

from __future__ import annotations

from typing import Any

from ..transport.hostkeys import HOST_KEY_MODES
from .model import (
    COMMAND_TYPES,
    FAILED_REQUIREMENT_POLICIES,
    IGNORED_NODE_KEYS,
    SERVICE_ACTIONS,
    Checker,
    CommandSpec,
    JobSpec,
    NodeSpec,
    Scenario,
    SchedulerSpec,
    ServiceSpec,
    kind_of,
)
from .source import LineDict, LineList

_NUMBER = (int, float)
_NAME = (str, int)

_NODE_KEYS = (
    "id",
    "hostname",
    "localnode",
    "gateway",
    "username",
    "port",
    "keys",
    "known_hosts",
    "host_key",
    "timeout",
    "formatter",
    "verbose",
    *IGNORED_NODE_KEYS,
)
_JOB_KEYS = (
    "id",
    "node",
    "commands",
    "command",
    "required",
    "critical",
    "forever",
    "verbose",
    "label",
    "keep_connection",
    "timeout",
    "retries",
    "backoff",
    "on_failed_requirement",
)
_SERVICE_KEYS = ("id", "command", "tty", "systemd_type", "environ", "stop_if_running", "verbose")
_SCHEDULER_KEYS = (
    "timeout",
    "window",
    "jobs_window",
    "critical",
    "verbose",
    "label",
    "shutdown_timeout",
    "on_failed_requirement",
)


def parse_scheduler(check: Checker, tree: LineDict) -> SchedulerSpec:
    """The optional top-level ``scheduler`` mapping (an sshjobs extension)."""
    if tree.get("scheduler") is None:
        return SchedulerSpec()
    entry = check.mapping(tree["scheduler"], "'scheduler'", tree.line_of("scheduler"))
    check.keys(entry, _SCHEDULER_KEYS, "'scheduler'")
    if "window" in entry and "jobs_window" in entry:
        raise check.fail(
            "give either 'window' or 'jobs_window', not both",
            entry.line_of("jobs_window"),
            "jobs_window",
        )
    window_key = "jobs_window" if "jobs_window" in entry else "window"
    spec = SchedulerSpec(
        timeout=check.get(entry, "timeout", _NUMBER, "scheduler timeout (seconds)"),
        jobs_window=check.get(entry, window_key, int, "scheduler window (jobs at once)"),
        critical=check.get(entry, "critical", bool, "scheduler critical"),
        verbose=check.get(entry, "verbose", bool, "scheduler verbose"),
        label=check.get(entry, "label", _NAME, "scheduler label", convert=str),
        shutdown_timeout=check.get(entry, "shutdown_timeout", _NUMBER, "shutdown timeout"),
        on_failed_requirement=_policy(check, entry, "scheduler"),
    )
    _positive(check, entry, ("timeout", window_key, "shutdown_timeout"))
    return spec


def _positive(
    check: Checker, entry: LineDict, keys: tuple[str, ...], *, zero: bool = False
) -> None:
    for key in keys:
        value = entry.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue  # absent, or a wrong type that check.get reports
        if value < 0 or (value == 0 and not zero):
            raise check.fail(
                "must not be negative" if zero else "must be positive", entry.line_of(key), key
            )


def _policy(check: Checker, entry: LineDict, what: str) -> str | None:
    policy: str | None = check.get(
        entry, "on_failed_requirement", str, f"{what} on_failed_requirement"
    )
    if policy is not None and policy not in FAILED_REQUIREMENT_POLICIES:
        raise check.fail(
            f"{what} on_failed_requirement must be one of {', '.join(FAILED_REQUIREMENT_POLICIES)}",
            entry.line_of("on_failed_requirement"),
            "on_failed_requirement",
        )
    return policy


def parse_node(check: Checker, entry: LineDict) -> NodeSpec:
    """A node entry; a node is either an SSH host (``hostname``) or ``localnode``."""
    ident = check.ident(entry, "a node")
    what = f"node '{ident}'"
    check.keys(entry, _NODE_KEYS, what)
    local = "localnode" in entry and entry["localnode"] is not False
    hostname = check.get(entry, "hostname", _NAME, f"{what} hostname", convert=str)
    if local and hostname:
        raise check.fail(
            f"{what} has both 'hostname' and 'localnode'", entry.line_of("hostname"), "hostname"
        )
    if not local and not hostname:
        raise check.fail(
            f"{what} has no hostname (give 'hostname: HOST' or 'localnode: true')",
            entry.line,
            "hostname",
        )
    if local:
        for key in ("gateway", "username", "port", "keys", "known_hosts", "host_key"):
            if entry.get(key) is not None:
                raise check.fail(
                    f"{what} is a localnode: '{key}' means nothing here", entry.line_of(key), key
                )
    port = check.get(entry, "port", int, f"{what} port")
    if port is not None and not 0 < port < 65536:
        raise check.fail(f"{what} port must be between 1 and 65535", entry.line_of("port"), "port")
    host_key = check.get(entry, "host_key", str, f"{what} host-key mode")
    if host_key is not None and host_key not in HOST_KEY_MODES:
        raise check.fail(
            f"{what} host-key mode must be one of {', '.join(HOST_KEY_MODES)}",
            entry.line_of("host_key"),
            "host_key",
        )
    return NodeSpec(
        id=ident,
        line=entry.line,
        hostname=hostname,
        local=local,
        gateway=check.get(entry, "gateway", _NAME, f"{what} gateway", convert=str),
        username=check.get(entry, "username", _NAME, f"{what} username", convert=str),
        port=port,
        keys=check.str_list(entry, "keys", f"{what} keys"),
        known_hosts=check.get(entry, "known_hosts", str, f"{what} known_hosts file"),
        host_key=host_key,
        timeout=check.get(entry, "timeout", _NUMBER, f"{what} connection timeout"),
        formatter=check.get(entry, "formatter", str, f"{what} formatter class name"),
        verbose=check.get(entry, "verbose", bool, f"{what} verbose"),
        key_lines=dict(entry.key_lines),
    )


def parse_service(check: Checker, entry: LineDict) -> ServiceSpec:
    """A service entry: a long-running command started and stopped by Service commands."""
    ident = check.ident(entry, "a service")
    what = f"service '{ident}'"
    check.keys(entry, _SERVICE_KEYS, what)
    command = check.get(entry, "command", str, f"{what} command")
    if not command:
        raise check.fail(f"{what} has no command", entry.line, "command")
    environ = check.get(entry, "environ", dict, f"{what} environ")
    if environ is not None:
        environ = {str(k): str(v) for k, v in environ.items()}
    return ServiceSpec(
        id=ident,
        line=entry.line,
        command=command,
        tty=check.get(entry, "tty", bool, f"{what} tty", default=False),
        systemd_type=check.get(
            entry, "systemd_type", str, f"{what} systemd_type", default="simple"
        ),
        environ=environ,
        stop_if_running=check.get(
            entry, "stop_if_running", bool, f"{what} stop_if_running", default=True
        ),
        verbose=check.get(entry, "verbose", bool, f"{what} verbose", default=False),
    )


def parse_command(check: Checker, value: Any, line: int, where: str) -> CommandSpec:
    """A command entry: a plain string (a Run) or a mapping with ``type`` (default Run)."""
    if isinstance(value, str):
        return CommandSpec("Run", line, args=[value])
    entry = check.mapping(value, f"a command of {where}", line)
    kind = check.get(entry, "type", str, "command type", default="Run")
    if kind not in COMMAND_TYPES:
        raise check.fail(
            f"unknown command type '{kind}' (expected one of: {', '.join(COMMAND_TYPES)})",
            entry.line_of("type"),
            "type",
        )
    spec = CommandSpec(kind, entry.line, key_lines={str(k): v for k, v in entry.key_lines.items()})
    rest = {str(k): v for k, v in entry.items() if k != "type"}
    if kind == "Service":
        spec.service = check.get(entry, "service", _NAME, "service id", convert=str)
        spec.action = check.get(entry, "action", str, "service action")
        if spec.service is None:
            raise check.fail("a Service command needs 'service: ID'", entry.line, "service")
        if spec.action not in SERVICE_ACTIONS:
            raise check.fail(
                f"a Service command needs 'action:' one of {', '.join(SERVICE_ACTIONS)}",
                entry.line_of("action"),
                "action",
            )
        rest.pop("service")
        rest.pop("action")
    elif kind in ("Run", "RunScript", "RunString"):
        spec.args = _run_args(check, entry, kind, rest)
    spec.kwargs = rest
    return spec


_ARGV_KEYS = {
    "Run": ("argv",),
    "RunScript": ("local_script", "args"),
    "RunString": ("script_body", "args"),
}


def _run_args(check: Checker, entry: LineDict, kind: str, rest: dict[str, Any]) -> list[Any]:
    """Positional args of a Run-like command, from ``command:`` or the explicit keys; the
    used keys are removed from ``rest`` (what remains are keyword arguments)."""
    explicit = [key for key in _ARGV_KEYS[kind] if key in entry]
    if "command" in entry:
        if explicit:
            raise check.fail(
                f"give either 'command' or {' / '.join(_ARGV_KEYS[kind])}",
                entry.line_of(explicit[0]),
                explicit[0],
            )
        text = check.get(entry, "command", _NAME, f"{kind} command", convert=str)
        rest.pop("command")
        if not text or not text.strip():
            raise check.fail("empty command", entry.line_of("command"), "command")
        # Run: keep the text whole (the remote shell parses it); scripts: path then args,
        # split on whitespace as apssh does
        return [text] if kind == "Run" else text.split()
    first = _ARGV_KEYS[kind][0]
    if first not in entry:
        keys = " or ".join(f"'{k}'" for k in ("command", first))
        raise check.fail(f"a {kind} command needs {keys}", entry.line, first)
    for key in explicit:
        rest.pop(key)
    if kind == "Run":
        argv = entry["argv"]
        argv = argv if isinstance(argv, list) else [argv]
        if not argv:
            raise check.fail("empty argv", entry.line_of("argv"), "argv")
        return list(argv)
    head = check.get(entry, first, str, f"{kind} {first}")
    args = entry.get("args") or []
    return [head, *(args if isinstance(args, list) else str(args).split())]


def parse_job(check: Checker, entry: LineDict) -> JobSpec:
    """A job entry (always an SshJob); ``command`` is accepted as a synonym of ``commands``."""
    ident = check.ident(entry, "a job")
    what = f"job '{ident}'"
    check.keys(entry, _JOB_KEYS, what)
    if "commands" in entry and "command" in entry:
        raise check.fail(
            f"{what}: give either 'commands' or 'command'", entry.line_of("command"), "command"
        )
    key = "commands" if "commands" in entry else "command"
    node = check.get(entry, "node", _NAME, f"{what} node id", convert=str)
    if node is None:
        raise check.fail(f"{what} has no node", entry.line, "node")
    raw = entry.get(key)
    if raw is None or raw == []:
        raise check.fail(f"{what} has no commands", entry.line_of(key), "commands")
    items = raw if isinstance(raw, list) else [raw]
    lines = raw.item_lines if isinstance(raw, LineList) else [entry.line_of(key)] * len(items)
    commands = [parse_command(check, item, lines[i], what) for i, item in enumerate(items)]
    _positive(check, entry, ("timeout",))
    _positive(check, entry, ("retries", "backoff"), zero=True)
    required = check.str_list(entry, "required", f"{what} required") or []
    req_value = entry.get("required")
    req_lines = {
        name: (
            req_value.line_of(i) if isinstance(req_value, LineList) else entry.line_of("required")
        )
        for i, name in enumerate(required)
    }
    return JobSpec(
        id=ident,
        line=entry.line,
        node=node,
        commands=commands,
        required=required,
        critical=check.get(entry, "critical", bool, f"{what} critical"),
        forever=check.get(entry, "forever", bool, f"{what} forever"),
        verbose=check.get(entry, "verbose", bool, f"{what} verbose"),
        label=check.get(entry, "label", _NAME, f"{what} label", convert=lambda v: str(v).strip()),
        keep_connection=check.get(entry, "keep_connection", bool, f"{what} keep_connection"),
        timeout=check.get(entry, "timeout", _NUMBER, f"{what} timeout (seconds)"),
        retries=check.get(entry, "retries", int, f"{what} retries"),
        backoff=check.get(entry, "backoff", _NUMBER, f"{what} backoff (seconds)"),
        on_failed_requirement=_policy(check, entry, what),
        key_lines=dict(entry.key_lines),
        required_lines=req_lines,
    )


def resolve(check: Checker, scenario: Scenario) -> None:
    """Check every reference (gateway, node, required, service) and refuse cycles; references
    may point further down the file."""
    nodes, jobs = scenario.nodes, scenario.jobs
    for node in nodes.values():
        if node.gateway is None:
            continue
        line = node.key_lines.get("gateway", node.line)
        gateway = nodes.get(node.gateway)
        if gateway is None:
            raise check.fail(f"node '{node.id}': no node has id '{node.gateway}'", line, "gateway")
        if gateway.local:
            raise check.fail(
                f"node '{node.id}': the local node cannot be a gateway", line, "gateway"
            )
        seen = [node.id]
        while gateway is not None:
            if gateway.id in seen:
                raise check.fail(
                    "gateway cycle: " + " -> ".join([*seen, gateway.id]), line, "gateway"
                )
            seen.append(gateway.id)
            gateway = nodes.get(gateway.gateway) if gateway.gateway else None
    for job in jobs.values():
        if job.node not in nodes:
            raise check.fail(
                f"job '{job.id}': no node has id '{job.node}'",
                job.key_lines.get("node", job.line),
                "node",
            )
        for name in job.required:
            if name not in jobs:
                raise check.fail(
                    f"job '{job.id}' requires '{name}', but no job has that id",
                    job.required_lines.get(name, job.line),
                    "required",
                )
        for command in job.commands:
            if command.type == "Service" and command.service not in scenario.services:
                raise check.fail(
                    f"job '{job.id}': no service has id '{command.service}'",
                    command.key_lines.get("service", command.line),
                    "service",
                )
    _check_cycles(check, scenario)


def _check_cycles(check: Checker, scenario: Scenario) -> None:
    """Refuse requirement cycles, naming the jobs on the cycle."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(ident: str, path: list[str]) -> None:
        state[ident] = 1
        for name in scenario.jobs[ident].required:
            if state.get(name) == 1:
                cycle = [*path[path.index(name) :], name]
                job = scenario.jobs[name]
                raise check.fail("requirement cycle: " + " -> ".join(cycle), job.line, "required")
            if name not in state:
                visit(name, [*path, name])
        state[ident] = 2

    for ident in scenario.jobs:
        if ident not in state:
            visit(ident, [ident])


def _entries(check: Checker, tree: LineDict, section: str) -> list[LineDict]:
    """The entries of a top-level section: a list of mappings with ``id``, or a mapping
    id -> entry (an sshjobs extension; the id is filled in)."""
    value = tree[section]
    line = tree.line_of(section)
    if value is None:
        return []
    if isinstance(value, LineDict):
        entries = []
        for ident, entry in value.items():
            entry = check.mapping(entry, f"{section} entry '{ident}'", value.line_of(ident))
            if "id" in entry and str(entry["id"]) != str(ident):
                raise check.fail(
                    f"id '{entry['id']}' differs from its key '{ident}'", entry.line_of("id"), "id"
                )
            entry["id"] = ident
            entry.key_lines.setdefault("id", value.line_of(ident))
            entries.append(entry)
        return entries
    if not isinstance(value, LineList):
        raise check.fail(
            f"'{section}' must be a list of entries, not {kind_of(value)}", line, section
        )
    return [
        check.mapping(item, f"an entry of '{section}'", value.line_of(i))
        for i, item in enumerate(value)
    ]


def _unique(check: Checker, specs: dict[str, Any], spec: Any, what: str) -> None:
    if spec.id in specs:
        raise check.fail(
            f"duplicate {what} id '{spec.id}' (first at line {specs[spec.id].line})",
            spec.line,
            "id",
        )
    specs[spec.id] = spec


def parse_scenario(tree: Any, filename: str) -> Scenario:
    """Check a parsed tree (see :mod:`.source`) and return the Scenario it describes."""
    check = Checker(filename)
    if tree is None:
        raise check.fail("empty scenario: 'nodes' and 'jobs' are required", 1)
    tree = check.mapping(tree, "a scenario", 1)
    for key in [k for k in tree if isinstance(k, str) and k.startswith("x-")]:
        del tree[key]  # 'x-' keys hold YAML anchors for the rest of the file
    check.keys(tree, ("nodes", "jobs", "services", "scheduler"), "the scenario")
    for section in ("nodes", "jobs"):
        if section not in tree:
            raise check.fail(f"missing top-level key '{section}'", tree.line or 1, section)
    scheduler = parse_scheduler(check, tree)
    nodes: dict[str, NodeSpec] = {}
    for entry in _entries(check, tree, "nodes"):
        _unique(check, nodes, parse_node(check, entry), "node")
    services: dict[str, ServiceSpec] = {}
    if "services" in tree:
        for entry in _entries(check, tree, "services"):
            _unique(check, services, parse_service(check, entry), "service")
    jobs: dict[str, JobSpec] = {}
    for entry in _entries(check, tree, "jobs"):
        _unique(check, jobs, parse_job(check, entry), "job")
    scenario = Scenario(filename, scheduler, nodes, jobs, services)
    resolve(check, scenario)
    return scenario
