"""The ``sshjobs`` click group: subcommand registry, one-line errors, exit codes, logging.

Every error reaching the terminal is one line on stderr, ``sshjobs <cmd>: <what went wrong>``,
and the process exit code comes from the one table in :mod:`sshjobs.cli.exit`.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import importlib.util
import logging
import os
import signal
import sys
from typing import Any

import click

from asynciojobs import __version__
from sshjobs.cli.exit import ExitCode, exit_table_text
from sshjobs.cli.logs import logging_scope, setup_logging

__all__ = ["EXIT_EPILOG", "SshjobsGroup", "cli", "main"]

logger = logging.getLogger("sshjobs.cli")

#: the exit-code table as shown at the end of ``--help`` (``\b`` keeps click from re-wrapping it)
EXIT_EPILOG = "\b\nExit codes:\n" + exit_table_text()

#: subcommands provided by other parts of the project, registered when their module exists
_OPTIONAL_COMMANDS = (
    ("sshjobs.cli.sandbox", "sandbox"),
    ("sshjobs.cli.demo", "demo"),
    ("sshjobs.cli.scenario", "scenario"),
    ("sshjobs.cli.report", "report"),
)


def _one_line(text: str) -> str:
    return " ".join(text.split())


class SshjobsGroup(click.Group):
    """A click group whose errors are one line and whose result is an exit code."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; exit (or return, when not standalone) with a table code."""
        with logging_scope():
            code = self._run(args, prog_name or "sshjobs", complete_var, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, args: Any, prog_name: str, complete_var: str | None, **extra: Any) -> int:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else self.get_help(click.Context(self)))
            return int(ExitCode.OK)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else prog_name
            hint = f" (see {where} --help)" if "--help" not in exc.format_message() else ""
            click.echo(f"{where}: {_one_line(exc.format_message())}{hint}", err=True)
            return int(ExitCode.USAGE)
        except click.ClickException as exc:
            click.echo(f"{prog_name}: {_one_line(exc.format_message())}", err=True)
            return exc.exit_code
        except (click.Abort, KeyboardInterrupt):
            click.echo(f"{prog_name}: interrupted", err=True)
            return int(ExitCode.INTERRUPTED)
        except BrokenPipeError:  # reader went away (`sshjobs ... | head`): not our failure
            sys.stderr.close()
            return int(ExitCode.OK)
        if result is None:
            return int(ExitCode.OK)
        return int(result)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in _COMMANDS:
            return _load_command(name)
        return super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for name in _COMMANDS:
            if name not in self.commands:
                _load_command(name)
        return super().list_commands(ctx)


@click.group(
    name="sshjobs",
    cls=SshjobsGroup,
    epilog=EXIT_EPILOG,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(
    __version__, "-V", "--version", prog_name="sshjobs", message="%(prog)s %(version)s"
)
@click.option(
    "-D",
    "--debug",
    is_flag=True,
    envvar="SSHJOBS_DEBUG",
    help="diagnostics (connections, scheduling) on stderr",
)
def cli(debug: bool) -> None:
    """Run commands, scripts and copies on many hosts at once over SSH.

    \b
    sshjobs run -t fit[01-37] -x fit13 -- uname -a
    sshjobs run -t hosts.txt -s ./setup.sh arg1
    sshjobs push -t gw->node[1-8] build.tgz @:/tmp/
    sshjobs pull -t node[1-8] @:/var/log/syslog logs/{host}.log
    sshjobs targets -t fit[01-09] -x fit03
    eval "$(sshjobs completion bash)"      # Tab completion (also zsh, fish)

    \b
    Coming from clush / pssh: groups are -t @NAME (-g is the gateway here),
    stdin goes to every host, -o DIR writes per-host files, -b gathers.
    The login defaults to the ssh config's User, else the local user.
    """
    setup_logging(debug)


#: subcommand → module defining it (as an attribute of the same name); imported when used,
#: so that ``sshjobs run`` does not load the scenario, sandbox and demo code
_COMMANDS = {
    "targets": "sshjobs.cli.targets",
    "run": "sshjobs.cli.run",
    "push": "sshjobs.cli.push",
    "pull": "sshjobs.cli.pull",
    "completion": "sshjobs.cli.completion",
    **{name: "sshjobs.cli.apsshcmds" for name in ("apssh", "appush", "appull")},
    **{attribute: module for module, attribute in _OPTIONAL_COMMANDS},
}


def _load_command(name: str) -> click.Command | None:
    """The subcommand ``name``, or None (a broken optional module must not break the others)."""
    module_name = _COMMANDS[name]
    try:
        if importlib.util.find_spec(module_name) is None:
            return None
        command: click.Command = getattr(importlib.import_module(module_name), name)
    except Exception as exc:
        logger.warning("subcommand %s unavailable: %s", name, exc)
        return None
    cli.add_command(command)
    return command


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``sshjobs = "sshjobs.cli:main"``).

    Once the run is over, further Ctrl-C are ignored: a second Ctrl-C during the final
    teardown would otherwise kill the process by SIGINT instead of exiting with the run's code
    (130 when interrupted). Only here, in the process of its own: in-process callers of
    ``cli.main`` keep their signal handling, and asyncssh as it is (the speed-ups of
    :func:`~sshjobs.transport.loader.speed_up_this_process` are for this process only)."""
    from sshjobs.transport.loader import speed_up_this_process

    speed_up_this_process()
    gc.freeze()  # what the imports built lives until the end: no collection need scan it
    code: Any = 0
    try:
        cli.main(args=argv, prog_name="sshjobs")
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:  # a Ctrl-C between the end of the run and the exit
        code = int(ExitCode.INTERRUPTED)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_now(code)


def exit_now(code: Any) -> None:
    """Exit with ``code`` once everything is written, without the interpreter's final clean-up.

    After a fan-out, that clean-up frees every object of every connection one by one, tens of
    milliseconds the user waits for nothing. The exit handlers still run (they remove our
    temporary files), logs and output are flushed; a stdout closed by the reader gives 141.
    """
    if code is None:
        code = 0
    elif not isinstance(code, int):
        click.echo(str(code), err=True)
        code = 1
    try:
        atexit._run_exitfuncs()
    finally:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                if stream is sys.stdout and code == 0:
                    code = int(ExitCode.OUTPUT_CLOSED)
        os._exit(code)
