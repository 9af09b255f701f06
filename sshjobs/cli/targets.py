"""``sshjobs targets``: print the expanded target list and exit (a dry run, no connection)."""

from __future__ import annotations

from typing import Any

import click

from sshjobs.cli.options import resolve_or_usage, target_selection_options
from sshjobs.gather import fold_hosts
from sshjobs.targets import Target

__all__ = ["targets", "print_targets"]


def print_targets(found: list[Target], fold: bool = False) -> None:
    """One re-parseable target a line (``gw->user@host:port``), or one folded line."""
    if fold:
        click.echo(fold_hosts(target.name for target in found))
        return
    for target in found:
        click.echo(str(target))


@click.command(short_help="Print the expanded targets; connect to nothing.")
@target_selection_options
@click.option("-L", "-n", "--list-targets", "--dry-run", "list_targets", is_flag=True,
              hidden=True)   # what this command does anyway: accepted, not advertised
@click.option("--fold", is_flag=True, help="print host names folded into ranges on one line")
@click.option("--count", is_flag=True, help="print only the number of targets")
def targets(fold: bool, count: bool, **params: Any) -> int:
    """Print the expanded targets, one a line, and exit: nothing is connected.

    The lines are valid -t values (gateway chains included), so the output can be saved to a
    file and reused with -t FILE.
    """
    found = resolve_or_usage(params)
    if count:
        click.echo(str(len(found)))
    else:
        print_targets(found, fold)
    return 0
