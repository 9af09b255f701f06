"""``sshjobs run``: one remote command, or a local script, on every target."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from sshjobs.cli.execute import execute, listed, prepare
from sshjobs.cli.main import EXIT_EPILOG
from sshjobs.cli.options import connection_options, output_options, run_options, target_options
from sshjobs.cli.outcome import HostOutcome
from sshjobs.cli.sudo import SudoRun, SudoRunScript, SudoRunString
from sshjobs.commands import Run, RunScript, RunString
from sshjobs.sharedinput import SharedInput
from sshjobs.targets import Target

__all__ = ["run"]


def _script_command(words: tuple[str, ...], includes: list[str]) -> Any:
    """``-s``: a local script file pushed and run with the other words as arguments; a first
    word that is not a file but holds shell syntax (spaces, newlines, ``;``) is an inline
    script body. Returns ``build(sudo, password, stdin)`` making the command object."""
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
        raise click.UsageError(
            f"no such script file: {first!r} (an inline script must hold "
            f"shell syntax, e.g. -s 'uname -a; uptime')"
        )
    else:
        plain, with_sudo = RunString, SudoRunString
        extra["remote_name"] = "inline"

    def build(sudo: bool, password: Any, stdin: Any = None) -> Any:
        if sudo:
            return with_sudo(first, *args, password=password, stdin=stdin, **extra)
        return plain(first, *args, stdin=stdin, **extra)

    return build


def shared_stdin(params: dict[str, Any], settings: Any) -> SharedInput | None:
    """The local stdin, streamed to every host's command, when it is not a terminal (as clush
    does); None with ``--no-stdin``, on a terminal, or when it held the sudo password. Kept on
    disk rather than in memory when hosts run a few at a time (``-w`` below the host count)."""
    if params.get("no_stdin") or params.get("ask_sudo_pass") or sys.stdin is None:
        return None
    try:
        if sys.stdin.isatty():
            return None
    except (OSError, ValueError):
        return None
    # the binary stream under the text one; a stand-in without ``.buffer`` is given as is
    source: Any = getattr(sys.stdin, "buffer", sys.stdin)
    return SharedInput(source, spill=settings.window < len(settings.targets))


@click.command(
    epilog=EXIT_EPILOG,
    context_settings={"allow_interspersed_args": False, "help_option_names": ["-h", "--help"]},
)
@target_options
@connection_options
@run_options
@output_options
@click.option("-r", "--raw", is_flag=True, help="output lines as they are, without host prefix")
@click.option(
    "-s",
    "--script",
    is_flag=True,
    help="the first word is a local script (or an inline script body) pushed to each "
    "host and run with the other words as arguments",
)
@click.option(
    "--include",
    "includes",
    multiple=True,
    type=click.Path(),
    metavar="FILE",
    help="with -s: extra local file pushed next to the script (repeatable; give it before -s)",
)
@click.option(
    "--no-stdin",
    is_flag=True,
    help="do not send the local stdin to the hosts (their commands read nothing)",
)
@click.option(
    "--output-grace",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    envvar="SSHJOBS_OUTPUT_GRACE",
    help="once the command has exited, wait that long for the end of its output "
    "(a process it left in the background may hold it open), then return "
    "(the process keeps running)  [default: 2]",
)
@click.argument("command", nargs=-1, required=False, metavar="[--] COMMAND...")
def run(command: tuple[str, ...], script: bool, includes: tuple[str, ...], **params: Any) -> int:
    """Run COMMAND on every target, one SSH connection per host.

    The words of COMMAND are joined with spaces and run by the remote shell, like
    ssh does: quote what the remote shell must see as one word. Options stop at the
    first word of COMMAND (or at --): everything after it, even --timeout, goes to
    the remote command (or to the -s script as its arguments), as with ssh. Give
    sshjobs options first.

    When stdin is not a terminal it is sent to every host's command (streamed, as
    clush does; -s scripts read it too); --no-stdin turns that off.

    Output: host-prefixed lines as they come (stdout to stdout, stderr to stderr),
    or -r, -f FORMAT, -tc, -b (gathered), --diff, --json, -o DIR / -d (files, --mark).

    \b
    Examples:
      sshjobs run -t fit[01-37] -x fit13 -- uname -a
      sshjobs run -t @web -b -- cat /etc/os-release
      sshjobs run -g gw -t node[1-8] --timeout 30 -- 'apt-get -q update'
      sshjobs run -t hosts.txt --include conf.ini -s ./setup.sh arg1
      sshjobs run -t node[1-8] -o out -m -- make test
      sshjobs run -t out/1failed -- make test        # again where it failed
      tar cf - conf | sshjobs run -t node[1-8] -- tar xf - -C /etc/app
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
    build = _script_command(command, list(includes)) if script else None
    settings = prepare(params)
    stdin = shared_stdin(params, settings)
    line = " ".join(command)

    def make_commands(target: Target, outcome: HostOutcome) -> list[Any]:
        if build is not None:
            return [build(settings.sudo, settings.sudo_password, stdin)]
        if settings.sudo:
            return [SudoRun(line, settings.sudo_password, stdin=stdin)]
        return [Run(line, stdin=stdin)]

    try:
        return execute(settings, make_commands)
    finally:
        if stdin is not None:
            stdin.close()
