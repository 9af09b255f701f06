"""``--monitor``, ``--report FILE.html`` and ``--events FILE.jsonl``: watching a run of ``run``,
``push``, ``pull`` or ``scenario`` live, and keeping a picture of it.

:class:`Observers` checks the files before anything starts (a usage error otherwise), gives
the :class:`~sshjobs.cli.console.Console` streams that write above the monitor's live area
(one writer for the terminal), subscribes the monitor and the event recorder to the
scheduler, and writes the report once the run is over - also after an interruption.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import IO, Any

import click

from asynciojobs.monitor import Monitor
from asynciojobs.record import EventRecorder, snapshot
from asynciojobs.report import write_report

__all__ = ["Observers"]

logger = logging.getLogger("sshjobs.cli.observe")


def _check_writable(path: str, option: str) -> None:
    existed = Path(path).exists()
    try:
        with open(path, "a", encoding="utf-8"):
            pass
        if not existed:
            Path(path).unlink()
    except OSError as exc:
        raise click.UsageError(
            f"cannot write {option} file {path!r}: {exc.strerror or exc}"
        ) from exc


class Observers:
    """What ``--monitor`` / ``--report`` / ``--events`` ask for, for one run."""

    def __init__(self, output: dict[str, Any], title: str = "sshjobs run") -> None:
        self.monitor = Monitor() if output.get("monitor") else None
        self.report: str | None = output.get("report")
        self.events_path: str | None = output.get("events")
        self.title = title
        self._events: IO[str] | None = None
        self._unsubscribe: list[Any] = []
        for path, option in ((self.report, "--report"), (self.events_path, "--events")):
            if path:
                _check_writable(path, option)

    def console_streams(self) -> dict[str, Any]:
        """Keyword arguments for the Console: with the monitor, streams writing above its
        live area, and no progress line of its own."""
        if self.monitor is None:
            return {}
        return {
            "out": self.monitor.above(sys.stdout),
            "err": self.monitor.above(sys.stderr),
            "progress": False,
        }

    def attach(self, scheduler: Any) -> None:
        """Subscribe the monitor and the recorder (the events file is opened now)."""
        if self.monitor is not None:
            self._unsubscribe.append(scheduler.subscribe(self.monitor))
        if self.events_path:
            self._events = open(self.events_path, "w", encoding="utf-8")  # noqa: SIM115
            self._unsubscribe.append(scheduler.subscribe(EventRecorder(self._events, self.title)))

    def finish(self, scheduler: Any) -> None:
        """Close the display and the events file, write the report."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        if self.monitor is not None:
            self.monitor.close()
        if self._events is not None:
            self._events.close()
        if self.report:
            try:
                write_report(snapshot(scheduler, self.title), self.report)
            except OSError as exc:
                click.echo(
                    f"sshjobs: cannot write report {self.report!r}: {exc.strerror or exc}", err=True
                )
