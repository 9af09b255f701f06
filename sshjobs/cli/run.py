"""``sshjobs run``: one remote command, or a local script, on every target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sshjobs import Run, RunScript, RunString
from sshjobs.cli.common import execute, listed, prepare
from sshjobs.cli.main import EXIT_EPILOG
from sshjobs.cli.options import connection_options, output_options, run_options, target_options
from sshjobs.cli.outcome import HostOutcome
from sshjobs.cli.sudo import SudoRun, SudoRunScript, SudoRunString
from sshjobs.targets import Target

__all__ = ["run"]


def _script_command(words: tuple[str, ...], includes: list[str]) -> Any:
    """``-s``: a local script file pushed and run with the other words as arguments; a first
    word that is not a file but holds shell syntax (spaces, newlines, ``;``) is an inline
    script body. Returns ``build(sudo, password)`` making the command object."""
    first, args = words[0], words[1:]
    path = Path(first).expanduser()
    extra: dict[str, Any] = {"includes": includes or None}
    plain: Any
    with_sudo: Any
    if path.is_file():
        plain, with_sudo, first = RunScript, SudoRunScript, str(path)
    elif path.exists():
        raise click.UsageError(f"script {first!r} is not a regular file")
    elif "/" in first or not any(c.isspace() or c in ";|&$" for c in first):
        raise click.UsageError(f"no such script file: {first!r} (an inline script must hold "
                               f"shell syntax, e.g. -s 'uname -a; uptime')")
    else:
        plain, with_sudo = RunString, SudoRunString
        extra["remote_name"] = "inline"

    def build(sudo: bool, password: Any) -> Any:
        if sudo:
            return with_sudo(first, *args, password=password, **extra)
        return plain(first, *args, **extra)
    return build


@click.command(epilog=EXIT_EPILOG,
               context_settings={"allow_interspersed_args": False,
                                 "help_option_names": ["-h", "--help"]})
@target_options
@connection_options
@run_options
@output_options
@click.option("-r", "--raw", is_flag=True, help="output lines as they are, without host prefix")
@click.option("-s", "--script", is_flag=True,
              help="the first word is a local script (or an inline script body) pushed to each "
                   "host and run with the other words as arguments")
@click.option("--include", "includes", multiple=True, type=click.Path(), metavar="FILE",
              help="with -s: extra local file pushed next to the script (repeatable)")
@click.option("--output-grace", type=click.FloatRange(min=0), metavar="SECONDS",
              envvar="SSHJOBS_OUTPUT_GRACE",
              help="once the command has exited, wait that long for the end of its output "
                   "(a process it left in the background may hold it open), then return "
                   "(the process keeps running)  [default: 2]")
@click.argument("command", nargs=-1, required=False, metavar="[--] COMMAND...")
def run(command: tuple[str, ...], script: bool, includes: tuple[str, ...],
        **params: Any) -> int:
    """Run COMMAND on every target, one SSH connection per host.

    The words of COMMAND are joined with spaces and run by the remote shell, like
    ssh does: quote what the remote shell must see as one word. Options stop at the
    first word of COMMAND (or at --).

    Output: host-prefixed lines as they come (stdout to stdout, stderr to stderr),
    or -r, -f FORMAT, -tc, -b (gathered), --json, -o DIR / -d (files, --mark).
    """
    if listed(params):
        return 0
    if not command:
        raise click.UsageError("no command: sshjobs run -t HOSTS -- COMMAND...")
    if includes and not script:
        raise click.UsageError("--include only makes sense with -s/--script")
    for include in includes:
        if not Path(include).expanduser().is_file():
            raise click.UsageError(f"no such include file: {include!r}")
    if script:
        build = _script_command(command, list(includes))
    else:
        build = None
    settings = prepare(params)
    line = " ".join(command)

    def make_commands(target: Target, outcome: HostOutcome) -> list[Any]:
        if build is not None:
            return [build(settings.sudo, settings.sudo_password)]
        if settings.sudo:
            return [SudoRun(line, settings.sudo_password)]
        return [Run(line)]

    return execute(settings, make_commands)
