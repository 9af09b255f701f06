"""Job events: a stream a progress display, a logger or a test can subscribe to.

Subscription API
----------------
``unsubscribe = scheduler.subscribe(callback)`` registers ``callback(event: JobEvent)``;
calling ``unsubscribe()`` removes it. A subscriber of a scheduler receives the events of
its jobs **and of the jobs of its nested schedulers** (a nested scheduler is also reported
as a job of its parent). Callbacks run synchronously inside the event loop, in the order
of the events: keep them short, never block. An exception raised by a callback is logged
(logger ``asynciojobs.events``) and otherwise ignored - a broken display never breaks a run.

A subscriber may narrow what it receives with an ``event_kinds`` attribute (a collection
of kinds; None or absent: all), read by each scheduler right after delivering its
"run-started" event (which every subscriber gets): the run then makes no event of a kind
nobody wants (the started/done pair of every job is what costs on runs of many small jobs).

For async consumers, :class:`EventQueue` is a ready-made subscriber::

    queue = EventQueue()
    scheduler.subscribe(queue)
    ...                                   # in another task:
    async for event in queue:             # ends after the "finished" event of that scheduler
        print(event.kind, event.job.display_label())

``JobEvent`` fields: ``kind`` (one of :data:`KINDS`), ``job``, ``time`` (the loop's clock,
``loop.time()``), ``exception`` (for "failed", "retry", "skipped": the exception, or a
:class:`~asynciojobs.errors.JobSkipped` naming the failed requirement), ``scheduler`` (the
scheduler running the job).

Kinds: ``"started"`` (the job got its window slot and its ``co_run()`` begins), ``"done"``
(returned normally), ``"failed"`` (raised; ``job.is_critical()`` tells whether it aborts),
``"retry"`` (raised, another attempt follows after a backoff), ``"skipped"`` (not run
because a requirement failed, under the ``"skip"`` policy), ``"cancelled"`` (cancelled
while running: forever jobs at the end, global timeout, emergency exit). Schedulers also
emit ``"run-started"`` and ``"finished"`` about themselves, with ``job`` being the
scheduler.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, NamedTuple

logger = logging.getLogger("asynciojobs.events")

STARTED, DONE, FAILED, RETRY, SKIPPED, CANCELLED = (
    "started",
    "done",
    "failed",
    "retry",
    "skipped",
    "cancelled",
)
RUN_STARTED, FINISHED = "run-started", "finished"
KINDS = (STARTED, DONE, FAILED, RETRY, SKIPPED, CANCELLED, RUN_STARTED, FINISHED)

Subscriber = Callable[["JobEvent"], Any]


class JobEvent(NamedTuple):
    """One thing that happened to a job during a run (immutable; a named tuple because
    one is made per start and per end of every job: it is three times cheaper to make than
    a frozen dataclass, which keeps a monitor affordable on runs of many small jobs)."""

    kind: str
    job: Any
    time: float
    scheduler: Any = None
    exception: BaseException | None = None

    def __str__(self) -> str:
        extra = f" ({type(self.exception).__name__}: {self.exception})" if self.exception else ""
        return f"{self.time:.3f} {self.kind} {self.job.display_label()}{extra}"


_new_event = tuple.__new__  # JobEvent's fields in order, without its Python-level __new__


def emit(
    subscribers: list[Subscriber],
    kind: str,
    job: Any,
    time: float,
    scheduler: Any,
    exception: BaseException | None = None,
) -> None:
    """Make a :class:`JobEvent` and deliver it: the scheduler's path, taken twice per job,
    kept to one Python call besides the subscribers'."""
    event = _new_event(JobEvent, (kind, job, time, scheduler, exception))
    for callback in subscribers:
        try:
            callback(event)
        except Exception:
            logger.exception("event subscriber %r failed on %s", callback, kind)


def wants(subscriber: Subscriber, kind: str) -> bool:
    """Whether ``subscriber`` wants events of ``kind``: all of them, unless it has an
    ``event_kinds`` attribute (a collection of kinds, or None for all), read once per run of
    each scheduler, right after its "run-started" event was delivered."""
    kinds = getattr(subscriber, "event_kinds", None)
    return kinds is None or kind in kinds


def deliver(subscribers: list[Subscriber], event: JobEvent) -> None:
    """Call every subscriber with ``event``; log and swallow their exceptions."""
    for callback in subscribers:
        try:
            callback(event)
        except Exception:
            logger.exception("event subscriber %r failed on %s", callback, event.kind)


class EventQueue:
    """A subscriber that buffers events for ``async for``; iteration stops after the
    ``"finished"`` event of the scheduler it was first subscribed to run."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[JobEvent] = asyncio.Queue()
        self.events: list[JobEvent] = []
        self._top: Any = None

    def __call__(self, event: JobEvent) -> None:
        if self._top is None and event.kind == RUN_STARTED:
            self._top = event.job
        self.events.append(event)
        self._queue.put_nowait(event)

    def __aiter__(self) -> EventQueue:
        return self

    async def __anext__(self) -> JobEvent:
        if self._top is False:
            raise StopAsyncIteration
        event = await self._queue.get()
        if event.kind == FINISHED and event.job is self._top:
            self._top = False
        return event
