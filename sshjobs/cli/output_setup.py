"""Setting up the output of a run from the validated options: the terminal, the reporters of
the chosen mode, and a check that output files can be written before anything connects."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import click

from sshjobs.cli.console import Console
from sshjobs.cli.observe import Observers
from sshjobs.cli.options import Settings
from sshjobs.cli.reporters import (
    DirReporter,
    Fanout,
    GatherReporter,
    JsonReporter,
    ListsReporter,
    LiveReporter,
    Reporter,
)

__all__ = ["check_writable", "make_fanout", "make_reporters", "print_out_dir"]


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
            raise click.UsageError(
                f"cannot write output directory {out_dir!r}: {exc.strerror or exc}"
            ) from exc
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
            raise click.UsageError(
                f"cannot write --{option.replace('_', '-')} file {path!r}: {exc.strerror or exc}"
            ) from exc


def make_fanout(settings: Settings, total: int = 0, observers: Observers | None = None) -> Fanout:
    """The terminal (with ``--progress`` and ``--color`` as asked) and the reporters of the
    output mode, fed together; ``total`` is the number of hosts shown by the progress line.
    With ``--monitor`` (``observers``), the console writes above the monitor's live area and
    has no progress line of its own."""
    streams: dict[str, Any] = {
        "progress": settings.output.get("progress"),
        "color": settings.output.get("color"),
    }
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
    elif output.get("gather") or output.get("diff"):
        reporters.append(GatherReporter(console, diff=bool(output.get("diff"))))
    elif output.get("out_dir"):
        # output goes to files; the terminal only gets the one-line errors
        reporters.append(
            LiveReporter(console, output["line_format"], report_errors=True, show_lines=False)
        )
    else:
        reporters.append(LiveReporter(console, output["line_format"]))
    if output.get("ok_to") or output.get("failed_to"):
        reporters.append(ListsReporter(output.get("ok_to"), output.get("failed_to")))
    return reporters


def print_out_dir(settings: Settings) -> None:
    """After a run with ``-o``/``-d``: the directory on stdout (not with ``--json``, whose
    stdout holds records only)."""
    out_dir = settings.output.get("out_dir")
    if out_dir and not settings.output.get("json_lines"):
        click.echo(out_dir)
