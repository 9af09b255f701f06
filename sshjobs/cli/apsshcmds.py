"""``sshjobs apssh|appush|appull ARGS...``: apssh's command lines as subcommands.

Everything after the subcommand name goes untouched to :class:`~sshjobs.cli.Apssh` (or
``Appush`` / ``Appull``), whose argparse grammar is apssh's; click parses nothing, not even
``--help``. So a shell script written for apssh changes one word: ``apssh`` → ``sshjobs apssh``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sshjobs.cli.apssh_base import ApsshBase

__all__ = ["appull", "appush", "apssh"]

_PASS_THROUGH = {
    "ignore_unknown_options": True,
    "allow_extra_args": True,
    "allow_interspersed_args": False,
    "help_option_names": [],
}


def _pass_through(name: str, short_help: str, make: Callable[[str], ApsshBase]) -> click.Command:
    @click.command(
        name=name, context_settings=_PASS_THROUGH, add_help_option=False, short_help=short_help
    )
    @click.argument("words", nargs=-1, type=click.UNPROCESSED)
    def command(words: tuple[str, ...]) -> int:
        return make(f"sshjobs {name}").main(list(words))

    return command


def _apssh(prog: str) -> ApsshBase:
    from sshjobs.cli.apssh import Apssh

    return Apssh(prog)


def _appush(prog: str) -> ApsshBase:
    from sshjobs.cli.appcopy import Appush

    return Appush(prog)


def _appull(prog: str) -> ApsshBase:
    from sshjobs.cli.appcopy import Appull

    return Appull(prog)


apssh = _pass_through("apssh", "Run a command or script on many hosts, apssh's options.", _apssh)
appush = _pass_through("appush", "Copy local files to many hosts, appush's options.", _appush)
appull = _pass_through("appull", "Copy files from many hosts, appull's options.", _appull)
