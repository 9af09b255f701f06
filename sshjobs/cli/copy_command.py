"""The click command shape shared by ``push`` and ``pull``: every option of ``run`` but its
``-r`` (the sudo ones hidden, to be refused in one clear line), plus the copy options."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from sshjobs.cli.main import EXIT_EPILOG
from sshjobs.cli.options import (
    connection_options,
    output_options,
    pace_options,
    sudo_options,
    target_options,
)

__all__ = ["copy_command"]

F = TypeVar("F", bound=Callable[..., Any])


def copy_command(paths_metavar: str, short_help: str) -> Callable[[F], F]:
    """The click command of ``push`` and ``pull``: the options of ``run`` but ``-r`` (the sudo
    ones hidden: refused), plus ``-r/--recursive``, ``--raw``, ``--no-preserve`` and PATHS."""

    def decorate(function: F) -> F:
        decorators: list[Callable[[Any], Any]] = [
            click.command(
                epilog=EXIT_EPILOG,
                short_help=short_help,
                context_settings={"help_option_names": ["-h", "--help"]},
            ),
            target_options,
            connection_options,
            pace_options,
            functools.partial(sudo_options, hidden=True),
            output_options,
            click.option("-r", "--recursive", is_flag=True, help="copy directories recursively"),
            click.option("--raw", is_flag=True, help="output lines without host prefix"),
            click.option("--no-preserve", is_flag=True, help="do not keep modes and times"),
            click.argument("paths", nargs=-1, metavar=paths_metavar),
        ]
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return decorate
