"""Watch (elapsed-time stamps) and PrintJob (a job that prints and sleeps), plus the
printer behind a scheduler's ``verbose=True`` feedback. These print by design."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from . import events as ev
from .job import AbstractJob


class Watch:
    """Measures elapsed time since its creation (or ``reset()``), to stamp printed lines."""

    def __init__(
        self,
        message: str | None = None,
        *,
        show_elapsed: bool = True,
        show_wall_clock: bool = False,
    ) -> None:
        self.message = message
        self.show_elapsed = show_elapsed
        self.show_wall_clock = show_wall_clock
        self.reset()
        if message is not None:
            self._print(message)

    def reset(self) -> None:
        """Start counting from now."""
        self.start = time.monotonic()

    def seconds(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self.start

    def elapsed(self) -> str:
        """``SSS.MMM``: seconds since the start, 7 characters."""
        return f"{self.seconds():07.3f}"

    def print_elapsed(self, suffix: str = " ") -> None:
        """Print the elapsed time, without a newline by default."""
        print(self.elapsed(), end=suffix)

    @staticmethod
    def print_wall_clock(suffix: str = " ") -> None:
        """Print ``HH:MM:SS.mmm``."""
        print(wall_clock(), end=suffix)

    def _print(self, message: str) -> None:
        prefix = []
        if self.show_wall_clock:
            prefix.append(wall_clock())
        if self.show_elapsed:
            prefix.append(self.elapsed())
        print(" ".join([*prefix, message]))


def wall_clock() -> str:
    """Current local time as ``HH:MM:SS.mmm``."""
    return datetime.now().strftime("%H:%M:%S.%f")[:-3]


class PrintJob(AbstractJob):
    """Prints an optional banner and its messages, then sleeps ``sleep`` seconds if given."""

    def __init__(
        self,
        *messages: Any,
        sleep: float | None = None,
        banner: str | None = None,
        scheduler: Any = None,
        label: str | None = None,
        required: Any = None,
        **kwds: Any,
    ) -> None:
        self.messages = messages
        self.sleep = sleep
        self.banner = banner
        super().__init__(scheduler=scheduler, label=label, required=required, **kwds)

    async def co_run(self) -> None:
        if self.banner:
            print(self.banner)
        for message in self.messages:
            print(message)
        if self.sleep:
            print(f"Sleeping for {self.sleep}s")
            await asyncio.sleep(self.sleep)

    def text_label(self) -> str:
        first = str(self.messages[0]) if self.messages else ""
        return f"print {first[:20]}" if first else "print"

    def details(self) -> str:
        sleep = f"[+ sleep {self.sleep}s] " if self.sleep else ""
        first = f"msg= {self.messages[0]}..." if self.messages else "no message"
        return sleep + first


_VERBS = {
    ev.STARTED: "STARTING",
    ev.DONE: "DONE",
    ev.FAILED: "RAISED EXC.",
    ev.RETRY: "RETRYING",
    ev.SKIPPED: "SKIPPED",
    ev.CANCELLED: "CANCELLED",
}


def feedback_printer(scheduler: Any) -> Any:
    """A subscriber printing one line per event of ``scheduler``'s run (``verbose=True``)."""

    def stamp() -> str:
        watch = scheduler.watch
        return watch.elapsed() if watch is not None else wall_clock()

    def printer(event: ev.JobEvent) -> None:
        if event.scheduler is not scheduler:
            return
        job = event.job
        if event.kind == ev.RUN_STARTED:
            print(f"{stamp()} SCHEDULER: entering co_run with {len(scheduler.jobs)} job(s)")
        elif event.kind == ev.FINISHED:
            print(f"{stamp()} SCHEDULER: {scheduler.why()} - {scheduler.stats()}")
        else:
            print(
                f"{stamp()} {_VERBS.get(event.kind, event.kind):8s}: {job.repr_id()} "
                f"{job.repr_short()} {job.repr_main()}{job.repr_result()}"
            )

    return printer
