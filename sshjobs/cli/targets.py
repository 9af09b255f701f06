"""``sshjobs targets``: print the expanded target list and exit (a dry run, no connection)."""

from __future__ import annotations

from typing import Any

import click

from sshjobs.cli.options import resolve_or_usage, target_selection_options
from sshjobs.gather import fold_hosts
from sshjobs.groups import GroupError, load_groups
from sshjobs.targets import Target, TargetError, read_spec

__all__ = ["print_groups", "print_targets", "targets"]


def print_targets(found: list[Target], fold: bool = False) -> None:
    """One re-parseable target a line (``gw->user@host:port``), or one folded line."""
    if fold:
        click.echo(fold_hosts(target.name for target in found))
        return
    for target in found:
        click.echo(str(target))


def print_groups() -> None:
    """``@name: members`` for each group of the groups file (members folded), or why none."""
    try:
        groups = load_groups()
        if not groups.exists:
            raise click.UsageError(
                f"no groups file: {groups.path} does not exist (set "
                f"SSHJOBS_GROUPS or create it; lines 'name: node[01-20]')"
            )
        for name in groups.names():
            members = read_spec(f"@{name}", groups)
            click.echo(f"@{name}: {fold_hosts(str(target) for target in members)} ({len(members)})")
    except (GroupError, TargetError) as exc:
        raise click.UsageError(str(exc)) from exc


@click.command(short_help="Print the expanded targets (or the groups); connect to nothing.")
@target_selection_options
@click.option(
    "-L", "-n", "--list-targets", "--dry-run", "list_targets", is_flag=True, hidden=True
)  # what this command does anyway: accepted, not advertised
@click.option("--fold", is_flag=True, help="print host names folded into ranges on one line")
@click.option("--count", is_flag=True, help="print only the number of targets")
@click.option(
    "--groups",
    "list_groups",
    is_flag=True,
    help="list the node groups of the groups file ($SSHJOBS_GROUPS, else "
    "~/.config/sshjobs/groups) and exit",
)
def targets(fold: bool, count: bool, list_groups: bool, **params: Any) -> int:
    """Print the expanded targets, one a line, and exit: nothing is connected.

    The lines are valid -t values (gateway chains included), so the output can be saved to a
    file and reused with -t FILE.

    \b
    Examples:
      sshjobs targets -t fit[01-09] -x fit03
      sshjobs targets -t @rack1,@rack2 --fold
      sshjobs targets -g gw -t node[1-8] > hosts.txt
      sshjobs run -t hosts.txt -- uptime
      sshjobs targets --groups
    """
    if list_groups:
        print_groups()
        return 0
    found = resolve_or_usage(params)
    if count:
        click.echo(str(len(found)))
    else:
        print_targets(found, fold)
    return 0
