"""``sshjobs demo``: the demo experiment on a fresh sandbox (see :mod:`sshjobs.demo`)."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["demo"]


@click.command(short_help="Run an experiment on local sandbox nodes: nothing to install.")
@click.option(
    "-n",
    "--nodes",
    type=click.IntRange(1, 50),
    default=4,
    show_default=True,
    help="number of testbed nodes behind the gateway",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="directory for the results, the graph and the report [default: a fresh temp dir]",
)
@click.option("--monitor", is_flag=True, help="show the run live on the terminal (stderr)")
def demo(nodes: int, output: Path | None, monitor: bool) -> int:
    """Run an experiment on local sandbox nodes behind a gateway: nothing to install."""
    from sshjobs.demo import run_demo  # imported here: the library is heavier than the CLI

    report = run_demo(output, nodes, monitor=monitor)
    return 0 if report.ok else 1
