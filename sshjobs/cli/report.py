"""``sshjobs report EVENTS.jsonl -o run.html``: the HTML run report from an events file
written by ``--events`` (the same report as ``--report`` makes at the end of a run)."""

from __future__ import annotations

from pathlib import Path

import click

from asynciojobs.record import read_events
from asynciojobs.report import write_report

__all__ = ["report"]


@click.command(
    short_help="Make the HTML run report from an --events file.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.argument("events", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    metavar="FILE.html",
    type=click.Path(dir_okay=False),
    help="the report to write (default: EVENTS with the suffix .html)",
)
@click.option("--title", metavar="TEXT", help="title of the report (default: the run's)")
def report(events: str, output: str | None, title: str | None) -> int:
    """Write the self-contained HTML report (timeline, graph, summary) of the run whose
    job events EVENTS holds (written by --events of sshjobs run / scenario)."""
    path = Path(events)
    if not path.is_file():
        raise click.UsageError(f"no such events file: {events!r}")
    try:
        run = read_events(path)
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{events}: cannot read events: {exc}") from exc
    if title:
        run.title = title
    target = output or str(path.with_suffix(".html"))
    try:
        write_report(run, target)
    except OSError as exc:
        raise click.ClickException(f"cannot write {target!r}: {exc.strerror or exc}") from exc
    click.echo(target)
    return 0
