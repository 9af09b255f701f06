"""Options shared by ``run``, ``push``, ``pull`` and ``targets``, and their validation.

Each group of options is a decorator; :func:`make_settings` turns the parsed values into one
:class:`Settings` object, raising :class:`click.UsageError` (exit 2) on bad input *before* any
connection is made. Precedence: command-line flag > ``SSHJOBS_*`` environment > default.
"""

from __future__ import annotations

import datetime
import logging
import random
import resource
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from sshjobs.cli.console import FORMAT_FIELDS, LineFormat
from sshjobs.cli.logs import setup_logging
from sshjobs.cli.passphrase import PassphraseAsker, default_keys_passphrase, load_key
from sshjobs.groups import GroupError
from sshjobs.sshoptions import (
    SshOptionError,
    check_ssh_options,
    host_keys_of,
    parse_ssh_option,
    ssh_options_path,
)
from sshjobs.targets import Target, TargetError, resolve_targets
from sshjobs.transport.hostconfig import config_paths
from sshjobs.transport.hostkeys import ENV_VAR, HOST_KEY_MODES, check_mode

__all__ = [
    "HOST_KEY_MODES",
    "Secret",
    "Settings",
    "ask_sudo_password",
    "check_key_files",
    "check_output_modes",
    "color_choice",
    "connection_options",
    "default_window",
    "ensure_open_files",
    "line_template",
    "load_keys",
    "make_base_settings",
    "make_settings",
    "output_dir_name",
    "output_options",
    "pace_options",
    "resolve_or_usage",
    "run_options",
    "ssh_options_of",
    "sudo_options",
    "target_options",
]

logger = logging.getLogger("sshjobs.cli.options")

F = TypeVar("F", bound=Callable[..., Any])

#: file descriptors kept aside for stdio, logs, output files of the run...
_RESERVED_FDS = 64
#: descriptors one host may need at once (its socket, an output file, a copied file)
_FDS_PER_HOST = 3


class Secret:
    """A value that must never reach a log, a traceback or a repr (the sudo password)."""

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that sends it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret(<hidden>)"

    __str__ = __repr__


@dataclass
class Settings:
    """Everything a subcommand needs once the command line is validated."""

    targets: list[Target]
    keys: list[Any] = field(default_factory=list)  # loaded key objects
    host_keys: str | None = None  # None: SSHJOBS_HOST_KEYS, ssh config, accept-new
    known_hosts: str | None = None
    connect_timeout: float = 10.0
    window: int = 0
    timeout: float | None = None
    deadline: float | None = None
    sudo: bool = False
    sudo_password: Secret | None = None
    passphrase: str | None = None  # for passphrase-protected default keys
    output: dict[str, Any] = field(default_factory=dict)
    verbose: bool = False
    #: ``-F`` files (None: ``~/.ssh/config`` when readable)
    config: list[str] | None = None
    #: ``-O KEY=VALUE`` options, checked
    ssh_options: dict[str, str] = field(default_factory=dict)
    #: what every host's command reads on its stdin (None: nothing, an empty stdin)
    stdin: Any = None

    def config_paths(self) -> list[str]:
        """The ssh config files the nodes read, ``-O`` options first (see
        :mod:`sshjobs.sshoptions`)."""
        options = ssh_options_path(self.ssh_options)
        files = config_paths(self.config if self.config else ())
        return ([options] if options else []) + files

    output_grace: float | None = None  # None: the library's default


def _apply(function: F, decorators: list[Callable[[F], F]]) -> F:
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def target_selection_options(function: F) -> F:
    """``-t -x -l -g``: which hosts, as whom, through which gateway."""
    return _apply(
        function,
        [
            click.option(
                "-t",
                "--target",
                "targets",
                multiple=True,
                metavar="TARGETS",
                help="hosts: names, user@host, host:port, gw->host, ranges fit[01-37], "
                "groups @web, comma/space lists, a file or a directory of names "
                "(repeatable)",
            ),
            click.option(
                "-x",
                "--exclude",
                "excludes",
                multiple=True,
                metavar="TARGETS",
                help="hosts to leave out, same grammar as -t (repeatable)",
            ),
            click.option(
                "-l",
                "--login",
                envvar="SSHJOBS_LOGIN",
                metavar="USER",
                help="user for hosts that do not name one (default: the ssh config's "
                "User, else the local user, as ssh does)",
            ),
            click.option(
                "-g",
                "--gateway",
                envvar="SSHJOBS_GATEWAY",
                metavar="[USER@]HOST",
                help="gateway for every target without its own (one shared connection); "
                "None->host bypasses it. Not clush's -g: groups are -t @NAME",
            ),
            click.option(
                "--pick",
                type=click.IntRange(min=1),
                metavar="N",
                help="only N targets drawn at random among the selected ones",
            ),
        ],
    )


def target_options(function: F) -> F:
    """``-t -x -l -g -L/-n``: the target selection, and listing it instead of running."""
    return target_selection_options(
        _apply(
            function,
            [
                click.option(
                    "-L",
                    "-n",
                    "--list-targets",
                    "--dry-run",
                    "list_targets",
                    is_flag=True,
                    help="print the expanded target list and exit, connecting to nothing",
                ),
            ],
        )
    )


def connection_options(function: F) -> F:
    """``-i --host-keys --known-hosts -c``: how to authenticate and verify hosts."""
    return _apply(
        function,
        [
            click.option(
                "-i",
                "-k",
                "--key",
                "keys",
                multiple=True,
                envvar="SSHJOBS_KEY",
                type=click.Path(dir_okay=False),
                metavar="FILE",
                help="private key file (repeatable; default: agent and ~/.ssh keys)",
            ),
            click.option(
                "--host-keys",
                envvar=ENV_VAR,
                callback=_host_keys_callback,
                metavar="[" + "|".join(HOST_KEY_MODES) + "]",
                help="host-key policy: strict (known_hosts must match), accept-new "
                "(record unknown hosts, refuse changed keys), ignore (no check); "
                "default: StrictHostKeyChecking of ~/.ssh/config, else accept-new",
            ),
            click.option(
                "--known-hosts",
                type=click.Path(dir_okay=False),
                metavar="FILE",
                envvar="SSHJOBS_KNOWN_HOSTS",
                help="extra known_hosts file, trusted on top of ~/.ssh/known_hosts "
                "(accept-new records new hosts there)",
            ),
            click.option(
                "-c",
                "--connect-timeout",
                type=click.FloatRange(min=0, min_open=True),
                default=10.0,
                show_default=True,
                envvar="SSHJOBS_CONNECT_TIMEOUT",
                metavar="SECONDS",
                help="give up on a host not connected by then",
            ),
            click.option(
                "-F",
                "--ssh-config",
                "ssh_configs",
                multiple=True,
                type=click.Path(dir_okay=False),
                metavar="FILE",
                help="ssh config file to read instead of ~/.ssh/config (repeatable)",
            ),
            click.option(
                "-O",
                "--ssh-option",
                "ssh_option_texts",
                multiple=True,
                metavar="KEY=VALUE",
                help="ssh config option, as ssh -o (repeatable; overrides the config "
                "files): Port, User, ProxyJump, ConnectTimeout, "
                "ServerAliveInterval, StrictHostKeyChecking, IdentityFile...; "
                "an unknown KEY is an error",
            ),
        ],
    )


def run_options(function: F) -> F:
    """``-w --timeout --deadline --sudo --ask-sudo-pass``: how the run is paced and bounded."""
    return _apply(function, [pace_options, sudo_options])


def pace_options(function: F) -> F:
    """``-w --timeout --deadline``: how many hosts at once, and the time limits."""
    return _apply(
        function,
        [
            click.option(
                "-w",
                "--window",
                type=click.IntRange(min=0),
                envvar="SSHJOBS_WINDOW",
                metavar="N",
                help="hosts handled at once (default: as many as the "
                "open-file limit allows; 0 means that default)",
            ),
            click.option(
                "--timeout",
                type=click.FloatRange(min=0, min_open=True),
                metavar="SECONDS",
                help="limit for the command or transfer on each host, once connected "
                "(then exit code 4)",
            ),
            click.option(
                "--deadline",
                type=click.FloatRange(min=0, min_open=True),
                metavar="SECONDS",
                help="limit for the whole run; unfinished hosts are stopped (exit code 4)",
            ),
        ],
    )


def sudo_options(function: F, *, hidden: bool = False) -> F:
    """``--sudo --ask-sudo-pass`` (``hidden``: still parsed, to be refused in a clear line)."""
    return _apply(
        function,
        [
            click.option(
                "--sudo", is_flag=True, hidden=hidden, help="run the remote command through sudo"
            ),
            click.option(
                "--ask-sudo-pass",
                is_flag=True,
                hidden=hidden,
                help="ask the sudo password once (hidden) and give it to every host",
            ),
        ],
    )


def output_options(function: F) -> F:
    """Output modes; ``-r`` is left to each subcommand (raw for run, recursive for copies)."""
    return _apply(
        function,
        [
            click.option(
                "-f",
                "--format",
                "line_format",
                metavar="FORMAT",
                help="line format with fields "
                + ", ".join("{" + f + "}" for f in FORMAT_FIELDS)
                + " and strftime codes such as %H:%M:%S",
            ),
            click.option("-tc", "--time-colon", is_flag=True, help="lines as time:host:line"),
            click.option(
                "-o",
                "--out-dir",
                type=click.Path(file_okay=False),
                metavar="DIR",
                help="one file per host in DIR (stderr in HOST.err)",
            ),
            click.option(
                "-d", "--date-time", is_flag=True, help="like -o with a time-stamped directory name"
            ),
            click.option(
                "-m",
                "--mark",
                is_flag=True,
                help="with -o/-d: also write DIR/0ok/HOST and DIR/1failed/HOST (exit "
                "status or reason), replacing the marks of this run's hosts (other "
                "hosts' marks stay); such directories are valid -t values",
            ),
            click.option(
                "-b",
                "--gather",
                is_flag=True,
                help="at the end, print each distinct output once under its folded hosts",
            ),
            click.option(
                "--diff",
                is_flag=True,
                help="at the end, the most common output once, then each other output as "
                "a unified diff against it",
            ),
            click.option(
                "--color",
                type=click.Choice(("auto", "always", "never")),
                default="auto",
                show_default=True,
                envvar="SSHJOBS_COLOR",
                help="colored host names and errors (auto: on a terminal, unless NO_COLOR is set)",
            ),
            click.option(
                "--json",
                "json_lines",
                is_flag=True,
                help="one JSON record per host on stdout, nothing else",
            ),
            click.option(
                "--ok-to",
                type=click.Path(dir_okay=False),
                metavar="FILE",
                help="write the hosts that succeeded to FILE (a valid -t value)",
            ),
            click.option(
                "--failed-to",
                type=click.Path(dir_okay=False),
                metavar="FILE",
                help="write the hosts that failed or were not reached to FILE",
            ),
            click.option(
                "--progress/--no-progress",
                default=None,
                help="progress line on stderr (default: only when stderr is a terminal)",
            ),
            click.option(
                "--monitor",
                is_flag=True,
                help="live view of the run on stderr: counts, running jobs with their "
                "node and last line, failures (plain lines when not a terminal)",
            ),
            click.option(
                "--report",
                metavar="FILE.html",
                type=click.Path(dir_okay=False),
                help="write a self-contained HTML report of the run (timeline, graph, summary)",
            ),
            click.option(
                "--events",
                metavar="FILE.jsonl",
                type=click.Path(dir_okay=False),
                help="write the job events, one JSON object a line (sshjobs report "
                "makes the HTML report from them later)",
            ),
            click.option("-v", "--verbose", is_flag=True, help="connection events on stderr"),
            click.option(
                "--debug",
                is_flag=True,
                expose_value=False,
                is_eager=True,
                callback=_debug_callback,
                help="diagnostics on stderr (same as sshjobs -D)",
            ),
        ],
    )


def _host_keys_callback(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    """A policy name, else a usage error naming where the bad value came from."""
    if value is None:
        return None
    source = ctx.get_parameter_source(param.name or "host_keys")
    where = ENV_VAR if source == click.core.ParameterSource.ENVIRONMENT else "--host-keys"
    try:
        return check_mode(value, where)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _debug_callback(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        setup_logging(True)


def ensure_open_files(needed: int) -> int:
    """Raise the soft open-file limit towards ``needed`` (never above the hard one).

    Returns the soft limit in force afterwards.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            logger.debug("open-file soft limit raised from %d to %d", soft, target)
            soft = target
        except (ValueError, OSError) as exc:  # pragma: no cover - platform refusal
            logger.debug("cannot raise open-file limit to %d: %s", target, exc)
    return soft if soft != resource.RLIM_INFINITY else needed


def default_window(host_count: int, requested: int | None = None) -> int:
    """Hosts handled at once: ``requested`` if given, else all, bounded by the open-file limit.

    The soft limit is raised to the hard one when the window needs it; a requested window
    that still does not fit is reduced, with a warning on the log.
    """
    wanted = requested or max(host_count, 1)
    limit = ensure_open_files(wanted * _FDS_PER_HOST + _RESERVED_FDS)
    fitting = max(1, (limit - _RESERVED_FDS) // _FDS_PER_HOST)
    if requested and requested > fitting:
        logger.warning(
            "window %d exceeds the open-file limit (%d); using %d", requested, limit, fitting
        )
    return min(wanted, fitting)


def output_dir_name(out_dir: str | None, date_time: bool) -> str | None:
    """The directory of ``-o DIR`` or ``-d`` (``YYYY-MM-DD@HH:MM:SS``), None without either."""
    if out_dir:
        return out_dir
    if date_time:
        return datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")
    return None


def resolve_or_usage(params: dict[str, Any]) -> list[Target]:
    """Targets of the options, or a :class:`click.UsageError` (exit 2) naming the problem."""
    if not params.get("targets"):
        raise click.UsageError(
            "no target: give hosts with -t (e.g. -t host1,host2 or -t fit[01-10])"
        )
    for option, specs in (("-t", params["targets"]), ("-x", params.get("excludes") or ())):
        for spec in specs:
            if not spec.strip():
                raise click.UsageError(
                    f"{option} {spec!r}: empty target list (an unset "
                    f"variable?); name hosts, a file, or a directory "
                    f"({option} . for the current one)"
                )
    try:
        found = resolve_targets(
            params["targets"],
            params.get("excludes") or (),
            login=params.get("login"),
            gateway=params.get("gateway"),
        )
        if not found and params.get("excludes"):
            selected = resolve_targets(
                params["targets"], login=params.get("login"), gateway=params.get("gateway")
            )
        else:
            selected = found
    except (TargetError, GroupError) as exc:
        raise click.UsageError(str(exc)) from exc
    if not selected:
        raise click.UsageError(
            f"empty target list: {' '.join(params['targets'])!r} names no "
            f"host (an empty file or directory?)"
        )
    if not found:
        raise click.UsageError(f"empty target list: -x excluded all {len(selected)} targets")
    pick = params.get("pick")
    if pick and pick < len(found):
        chosen = set(random.sample(range(len(found)), pick))
        found = [target for index, target in enumerate(found) if index in chosen]
    return found


def check_key_files(files: Iterable[str]) -> list[str]:
    """The ``-i`` key files as given; UsageError naming one that is not a file."""
    names = list(files)
    for name in names:
        if not Path(name).expanduser().is_file():
            raise click.UsageError(f"no such key file: {name!r}")
    return names


def load_keys(files: Iterable[str], asker: PassphraseAsker | None = None) -> list[Any]:
    """Load the ``-i`` key files once for every host (UsageError naming a bad one); a
    passphrase is asked once on the terminal for those that need one."""
    loaded: list[Any] = []
    asker = asker or PassphraseAsker()
    quiet = logging.getLogger("sshjobs.keys")
    for name in check_key_files(files):
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)  # the one-line error says it all
        try:
            loaded.extend(load_key(name, asker))
        finally:
            quiet.setLevel(level)
    return loaded


def line_template(output: dict[str, Any]) -> str | None:
    """``--format`` > ``-r`` > ``-tc`` > default ``{host}: {line}`` (apssh's precedence)."""
    if output.get("line_format"):
        return str(output["line_format"])
    if output.get("raw"):
        return None
    if output.get("time_colon"):
        return "{time}:{host}:{line}"
    return "{host}: {line}"


#: options choosing how lines are shown or gathered: at most one of them per run
_OUTPUT_MODES = ("raw", "time_colon", "line_format", "gather", "json_lines", "diff")


def _flag(name: str) -> str:
    """How the user wrote option ``name`` (its flags, e.g. ``-b/--gather``)."""
    context = click.get_current_context(silent=True)
    if context is not None:
        for param in context.command.params:
            if param.name == name and isinstance(param, click.Option):
                return "/".join(param.opts)
    return "--" + name.replace("_", "-")


def check_output_modes(params: dict[str, Any]) -> None:
    """UsageError naming the first two output modes given together (``-r`` and ``-b``...)."""
    given = [name for name in _OUTPUT_MODES if params.get(name)]
    if len(given) > 1:
        raise click.UsageError(
            f"{_flag(given[0])} and {_flag(given[1])} cannot be combined: choose one output mode"
        )


def ssh_options_of(params: dict[str, Any]) -> dict[str, str]:
    """The ``-O KEY=VALUE`` options, checked (UsageError naming an unknown one)."""
    try:
        return check_ssh_options(
            [parse_ssh_option(text) for text in params.get("ssh_option_texts") or ()]
        )
    except SshOptionError as exc:
        raise click.UsageError(f"-O: {exc}") from exc


def _host_keys(params: dict[str, Any], options: dict[str, str]) -> str | None:
    """``--host-keys`` given on the command line, else ``-O StrictHostKeyChecking``, else
    ``$SSHJOBS_HOST_KEYS``; None: the ssh config's ``StrictHostKeyChecking``, else accept-new
    (see :mod:`sshjobs.transport.hostkeys`)."""
    context = click.get_current_context(silent=True)
    explicit = (
        context is not None
        and context.get_parameter_source("host_keys") == click.core.ParameterSource.COMMANDLINE
    )
    if not explicit and host_keys_of(options):
        return str(host_keys_of(options))
    return params.get("host_keys") or None


def color_choice(value: str | None) -> bool | None:
    """``--color``: True / False, or None for auto (a terminal, unless ``NO_COLOR``)."""
    return {"always": True, "never": False}.get(value or "auto")


def make_base_settings(params: dict[str, Any], keys: list[Any]) -> Settings:
    """:class:`Settings` of the connection and output options, without targets (``scenario``
    takes its nodes from its file); UsageError if bad. ``keys`` are the checked ``-i`` keys."""
    if params.get("mark") and not (params.get("out_dir") or params.get("date_time")):
        raise click.UsageError("--mark needs -o DIR or -d")
    check_output_modes(params)
    for config in params.get("ssh_configs") or ():
        if not Path(config).expanduser().is_file():
            raise click.UsageError(f"-F: no such ssh config file: {config!r}")
    options = ssh_options_of(params)
    output = {
        name: params.get(name)
        for name in (
            "line_format",
            "time_colon",
            "mark",
            "gather",
            "json_lines",
            "ok_to",
            "failed_to",
            "progress",
            "raw",
            "diff",
            "monitor",
            "report",
            "events",
        )
    }
    output["color"] = color_choice(params.get("color"))
    output["out_dir"] = output_dir_name(params.get("out_dir"), bool(params.get("date_time")))
    try:
        output["line_format"] = LineFormat(line_template(output))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    return Settings(
        targets=[],
        keys=keys,
        host_keys=_host_keys(params, options),
        known_hosts=params.get("known_hosts"),
        connect_timeout=params.get("connect_timeout") or 10.0,
        timeout=params.get("timeout"),
        deadline=params.get("deadline"),
        output=output,
        verbose=bool(params.get("verbose")),
        config=[str(Path(c).expanduser()) for c in params.get("ssh_configs") or ()] or None,
        ssh_options=options,
        output_grace=params.get("output_grace"),
    )


def make_settings(params: dict[str, Any]) -> Settings:
    """Validate the parsed options of ``run``, ``push`` or ``pull`` into :class:`Settings`:
    targets (required), loaded keys, output mode, window (UsageError if bad)."""
    targets = resolve_or_usage(params)
    asker = PassphraseAsker()
    settings = make_base_settings(params, load_keys(params.get("keys") or (), asker))
    if not settings.keys:
        settings.passphrase = default_keys_passphrase(asker)
    settings.targets = targets
    settings.sudo = bool(params.get("sudo") or params.get("ask_sudo_pass"))
    settings.window = default_window(len(targets), params.get("window"))
    return settings


def ask_sudo_password() -> Secret:
    """Read the sudo password once, hidden, from the terminal; when standard input is not a
    terminal, its first line is the password (no prompt, no getpass fallback warnings) and an
    empty stdin is a usage error instead of a prompt nobody can answer."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise click.UsageError(
                "--ask-sudo-pass: standard input is not a terminal and "
                "holds no password (give it on stdin, e.g. from a file)"
            )
        return Secret(line.rstrip("\r\n"))
    return Secret(
        click.prompt(
            "sudo password", hide_input=True, err=True, show_default=False, default="", type=str
        )
    )
