"""What ``run``, ``push`` and ``pull`` share once their options are validated: choosing the
output mode, expanding ``{host}``-style fields in paths, and driving one run to an exit code."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import string
import tempfile
from collections.abc import Callable
from typing import Any, TypeVar

import click

from sshjobs.cli.console import Console
from sshjobs.cli.engine import CommandFactory, display_names, run_on_targets
from sshjobs.cli.exit import ExitCode
from sshjobs.cli.main import EXIT_EPILOG
from sshjobs.cli.observe import Observers
from sshjobs.cli.options import (Settings, ask_sudo_password, connection_options, make_settings,
                                 output_options, pace_options, sudo_options, target_options)
from sshjobs.cli.outcome import HostOutcome
from sshjobs.cli.targets import print_targets
from sshjobs.cli.reporters import (DirReporter, Fanout, GatherReporter, JsonReporter,
                                   ListsReporter, LiveReporter, Reporter)
from sshjobs import AbstractCommand, CommandResult, CommandTimeoutError
from sshjobs.transport.connect import config_paths, config_user
from sshjobs.targets import Target

__all__ = ["copy_command", "refuse_sudo", "listed", "print_out_dir", "prepare", "execute",
           "expand_fields", "login_of", "TimedTransfer", "bounded", "check_fields", "make_fanout",
           "make_reporters", "check_writable", "PATH_FIELDS"]

logger = logging.getLogger("sshjobs.cli.common")

F = TypeVar("F", bound=Callable[..., Any])

#: fields usable in push/pull paths and per-host file names
PATH_FIELDS = ("host", "fqdn", "user", "port", "name")


def copy_command(paths_metavar: str, short_help: str) -> Callable[[F], F]:
    """The click command of ``push`` and ``pull``: the options of ``run`` but ``-r`` (the sudo
    ones hidden: refused), plus ``-r/--recursive``, ``--raw``, ``--no-preserve`` and PATHS."""
    def decorate(function: F) -> F:
        decorators: list[Callable[[Any], Any]] = [
            click.command(epilog=EXIT_EPILOG, short_help=short_help,
                          context_settings={"help_option_names": ["-h", "--help"]}),
            target_options, connection_options, pace_options,
            functools.partial(sudo_options, hidden=True), output_options,
            click.option("-r", "--recursive", is_flag=True,
                         help="copy directories recursively"),
            click.option("--raw", is_flag=True, help="output lines without host prefix"),
            click.option("--no-preserve", is_flag=True, help="do not keep modes and times"),
            click.argument("paths", nargs=-1, metavar=paths_metavar),
        ]
        for decorator in reversed(decorators):
            function = decorator(function)
        return function
    return decorate


def refuse_sudo(params: dict[str, Any]) -> None:
    """Copies are made as the login user: ``--sudo`` / ``--ask-sudo-pass`` are usage errors."""
    if params.get("sudo") or params.get("ask_sudo_pass"):
        raise click.UsageError("--sudo / --ask-sudo-pass are for sshjobs run: copies are made "
                               "as the login user (use -l root)")


def listed(params: dict[str, Any]) -> bool:
    """``-L``/``-n``: print the targets (the options validated as for a run); True if done."""
    if not params.get("list_targets"):
        return False
    print_targets(prepare(params).targets)
    return True


def print_out_dir(settings: Settings) -> None:
    """After a run with ``-o``/``-d``: the directory on stdout (not with ``--json``, whose
    stdout holds records only)."""
    out_dir = settings.output.get("out_dir")
    if out_dir and not settings.output.get("json_lines"):
        click.echo(out_dir)


def prepare(params: dict[str, Any]) -> Settings:
    """Validate options into settings (exit 2 on bad input); ask the sudo password if asked."""
    settings = make_settings(params)
    if params.get("ask_sudo_pass") and not params.get("list_targets"):
        settings.sudo_password = ask_sudo_password()
    return settings


def login_of(target: Target) -> str:
    """The user a target is reached as: its own, else ``~/.ssh/config``'s, else root (the
    library's rule, so that ``{user}`` names who actually logged in)."""
    return target.user or config_user(config_paths(()), target.host) or "root"


def expand_fields(template: str, target: Target, name: str) -> str:
    """``logs/{host}.log`` → ``logs/fit01.log``; ``{user}`` is the login (:func:`login_of`)."""
    return template.format_map({
        "host": target.host.split(".", 1)[0] if not _is_address(target.host) else target.host,
        "fqdn": target.host,
        "user": login_of(target),
        "port": str(target.port or 22),
        "name": name,
    })


def _is_address(host: str) -> bool:
    return ":" in host or all(part.isdigit() for part in host.split("."))


def check_fields(template: str, what: str) -> set[str]:
    """The fields a path uses; UsageError for an unknown one or a stray brace."""
    try:
        fields = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    except ValueError as exc:
        raise click.UsageError(f"bad {what} {template!r}: {exc} (write {{{{ and }}}} for "
                               f"literal braces)") from exc
    unknown = fields - set(PATH_FIELDS)
    if unknown:
        raise click.UsageError(f"unknown field {{{sorted(unknown)[0]}}} in {what} {template!r}; "
                               f"fields are {', '.join('{' + f + '}' for f in PATH_FIELDS)}")
    return fields


class TimedTransfer(AbstractCommand):
    """A Push or Pull bounded by ``--timeout`` once the host is connected (the library bounds
    commands itself, not SFTP transfers): a transfer still going is cancelled and the host
    ends with :class:`~sshjobs.errors.CommandTimeoutError` (exit code 4)."""

    def __init__(self, transfer: AbstractCommand, seconds: float) -> None:
        super().__init__(label=transfer.get_label_line())
        self.transfer = transfer
        self.seconds = seconds

    def check_local(self) -> None:
        self.transfer.check_local()

    def label_line(self) -> str:
        return self.transfer.get_label_line()

    async def co_execute(self, node: Any) -> CommandResult:
        await node.connect_lazy()
        try:
            async with asyncio.timeout(self.seconds):
                return await self.transfer.co_execute(node)
        except TimeoutError as exc:
            raise CommandTimeoutError(f"{self.label_line()} timed out after {self.seconds:g}s",
                                      host=node.hostname) from exc


def bounded(command: AbstractCommand, seconds: float | None) -> AbstractCommand:
    """``command`` itself, or wrapped in :class:`TimedTransfer` when a timeout is set."""
    return command if seconds is None else TimedTransfer(command, seconds)


def check_writable(output: dict[str, Any]) -> None:
    """UsageError (exit 2, before any connection) when ``-o``/``-d`` or ``--ok-to`` /
    ``--failed-to`` cannot be written, instead of a traceback before or after the run."""
    out_dir = output.get("out_dir")
    if out_dir:
        try:
            os.makedirs(out_dir, exist_ok=True)
            with tempfile.TemporaryFile(dir=out_dir):
                pass
        except OSError as exc:
            raise click.UsageError(f"cannot write output directory {out_dir!r}: "
                                   f"{exc.strerror or exc}") from exc
    for option in ("ok_to", "failed_to"):
        path = output.get(option)
        if not path:
            continue
        existed = os.path.exists(path)
        try:
            with open(path, "a"):
                pass
            if not existed:
                os.unlink(path)
        except OSError as exc:
            raise click.UsageError(f"cannot write --{option.replace('_', '-')} file {path!r}: "
                                   f"{exc.strerror or exc}") from exc


def make_fanout(settings: Settings, total: int = 0, observers: Observers | None = None) -> Fanout:
    """The terminal (with ``--progress`` as asked) and the reporters of the output mode, fed
    together; ``total`` is the number of hosts shown by the progress line. With ``--monitor``
    (``observers``), the console writes above the monitor's live area and has no progress
    line of its own."""
    streams: dict[str, Any] = {"progress": settings.output.get("progress")}
    if observers is not None:
        streams.update(observers.console_streams())
    console = Console(**streams)
    return Fanout(console, make_reporters(settings, console), total=total)


def make_reporters(settings: Settings, console: Console) -> list[Reporter]:
    """The reporters of the chosen output mode: files (-o/-d) and at most one terminal mode
    (JSON, gather, or live lines — only errors when output goes to files), plus host lists."""
    output = settings.output
    reporters: list[Reporter] = []
    check_writable(output)
    if output.get("out_dir"):
        reporters.append(DirReporter(output["out_dir"], mark=bool(output.get("mark"))))
    if output.get("json_lines"):
        reporters.append(JsonReporter(console))
    elif output.get("gather"):
        reporters.append(GatherReporter(console))
    elif output.get("out_dir"):
        # output goes to files; the terminal only gets the one-line errors
        reporters.append(LiveReporter(console, output["line_format"], report_errors=True,
                                      show_lines=False))
    else:
        reporters.append(LiveReporter(console, output["line_format"]))
    if output.get("ok_to") or output.get("failed_to"):
        reporters.append(ListsReporter(output.get("ok_to"), output.get("failed_to")))
    return reporters


def execute(settings: Settings, make_commands: CommandFactory) -> int:
    """Run on every target with the chosen output mode; the process exit code."""
    names = display_names(settings.targets)
    keep = bool(settings.output.get("gather") or settings.output.get("json_lines"))
    outcomes = [HostOutcome(target=target, name=name, keep_output=keep)
                for target, name in zip(settings.targets, names)]
    observers = Observers(settings.output)
    fanout = make_fanout(settings, len(outcomes), observers)
    logger.debug("%d targets, window %d", len(outcomes), settings.window)
    code = run_on_targets(settings, make_commands, fanout, outcomes, observers)
    print_out_dir(settings)
    if code == ExitCode.INTERRUPTED:
        unfinished = [o.name for o in outcomes if o.code == ExitCode.INTERRUPTED]
        logger.debug("interrupted; %d hosts had not finished", len(unfinished))
    return int(code)
