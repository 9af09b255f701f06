"""The run engine: starts each job once its requirements are finished, in O(jobs + edges).

Each job carries a counter of unfinished requirements (``_aj_pending``) and the list of
jobs requiring it (``_aj_succ``), prepared by the scheduler. A finished job decrements its
successors' counters and starts those reaching zero: no scan of all jobs per event, and no
task exists for a job that is not ready (nor more than MAX_UNSTARTED tasks that did not
begin yet: the others wait in a backlog, in order). Every task lives in an ``asyncio.TaskGroup``; the
jobs window is an ``asyncio.Semaphore`` held with ``async with`` (a slot comes back even
when a job raises; forever jobs take no slot, so they cannot starve the window); the
global deadline is ``asyncio.timeout()``. Time is the loop's clock only.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from . import events as ev
from .errors import JobSkipped
from .job import DONE, RUNNING, SCHEDULED, SKIPPED

OK, TIMED_OUT, CRITICAL = "ok", "timeout", "critical"
# tasks are created for ready jobs as soon as fewer than this many wait for their first step:
# a wide graph then never holds tens of thousands of not-yet-running tasks (memory, GC)
MAX_UNSTARTED = 1000


def successors_of(job: Any) -> Any:
    """The jobs requiring ``job`` in the current run (``_aj_succ``: None, a job or a list)."""
    succ = job._aj_succ
    if succ is None:
        return ()
    return succ if type(succ) is list else (succ,)


class _EndOfRun(Exception):
    """Raised in the task group's body to have it cancel what is still running."""


class Run:
    """One execution of one scheduler's jobs (nested schedulers make their own Run)."""

    tg: asyncio.TaskGroup  # set once the task group is entered

    __slots__ = (
        "aborted_by",
        "backlog",
        "fut",
        "live",
        "loop",
        "remaining",
        "scheduler",
        "sem",
        "subscribers",
        "tg",
        "unstarted",
    )

    def __init__(self, scheduler: Any, jobs_window: int | None, subscribers: list) -> None:
        self.scheduler = scheduler
        self.loop = asyncio.get_running_loop()
        self.sem = asyncio.Semaphore(jobs_window) if jobs_window else None
        self.remaining = 0      # non-forever jobs not finished yet
        self.live = 0           # tasks created and not finished
        self.unstarted = 0      # tasks created whose coroutine did not begin yet
        self.backlog: deque = deque()  # ready jobs waiting for their task to be created
        self.fut: asyncio.Future = self.loop.create_future()
        self.aborted_by: Any = None
        self.subscribers = subscribers

    def emit(self, kind: str, job: Any, exception: BaseException | None = None) -> None:
        """Deliver one event to the subscribers (callers check there are some)."""
        ev.emit(self.subscribers, kind, job, self.loop.time(), self.scheduler, exception)

    async def execute(self, jobs: Any, entries: list, timeout: float | None) -> str:
        """Run until every non-forever job finished, a critical job failed, or the timeout."""
        self.remaining = sum(1 for job in jobs if not job.forever)
        cm = asyncio.timeout(timeout)
        try:
            async with cm:
                try:
                    async with asyncio.TaskGroup() as tg:
                        self.tg = tg
                        for job in entries:
                            self.start(job)
                        await self.fut
                        if self.live:
                            raise _EndOfRun
                except* _EndOfRun:
                    pass
        except TimeoutError:
            if not cm.expired():
                raise
            return TIMED_OUT
        return CRITICAL if self.aborted_by is not None else OK

    def start(self, job: Any) -> None:
        """Start a ready job: create its task, unless too many tasks have not begun yet."""
        job._aj_state = SCHEDULED
        if self.unstarted >= MAX_UNSTARTED:
            self.backlog.append(job)
        else:
            self.create_task(job)

    def create_task(self, job: Any) -> None:
        if self.sem is None or job.forever:
            coro = self.run_job(job)
        else:
            coro = self.windowed(job)
        try:
            self.tg.create_task(coro)
        except RuntimeError:  # the group is shutting down: the job stays scheduled
            coro.close()
            return
        self.live += 1
        self.unstarted += 1

    def began(self) -> None:
        """A task's coroutine begins: let one job of the backlog have its task."""
        self.unstarted -= 1
        if self.backlog:
            self.create_task(self.backlog.popleft())

    async def windowed(self, job: Any) -> None:
        """Hold a window slot while the job runs: ``async with`` gives it back on any exit."""
        async with self.sem:  # type: ignore[union-attr]  # only used with a window
            self.began()  # counted once it has a slot: bounds the tasks waiting for one
            await self.run_job(job, False)

    async def run_job(self, job: Any, first_step: bool = True) -> None:
        """Run one job, record its outcome, then release its successors."""
        if first_step:
            self.began()
        loop = self.loop
        job._aj_state = RUNNING
        job._aj_t0 = loop.time()
        if self.subscribers:
            self.emit(ev.STARTED, job)
        try:
            if job.timeout is None and not job.retries:
                result = await job._aj_execute()
            else:
                result = await self.attempts(job)
        except asyncio.CancelledError:
            job._aj_cancelled = True
            job._aj_t1 = loop.time()  # when it stopped: reports draw its bar to there
            self.live -= 1
            if self.subscribers:
                self.emit(ev.CANCELLED, job)
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of a job is its outcome
            job._aj_exc = exc
            job._aj_t1 = loop.time()
            job._aj_state = DONE
            if self.subscribers:
                self.emit(ev.FAILED, job, exc)
            if self.aborted_by is None and job.is_critical():
                self.aborted_by = job
                if not self.fut.done():
                    self.fut.set_result(None)
        else:
            job._aj_result = result
            job._aj_t1 = loop.time()
            job._aj_state = DONE
            if self.subscribers:
                self.emit(ev.DONE, job)
        self.live -= 1
        self.finished(job)

    async def attempts(self, job: Any) -> Any:
        """Per-job timeout (each attempt) and retries with exponential backoff."""
        tries = 1 + max(0, int(job.retries or 0))
        # a nested scheduler's ``timeout`` is its own global deadline, enforced inside it
        timeout = None if job._aj_own_timeout else job.timeout
        for attempt in range(tries):
            job._aj_attempts = attempt + 1
            try:
                if timeout is None:
                    return await job._aj_execute()
                cm = asyncio.timeout(timeout)
                try:
                    async with cm:
                        return await job._aj_execute()
                except TimeoutError as exc:
                    if cm.expired():
                        raise TimeoutError(f"job timed out after {timeout}s") from exc
                    raise
            except Exception as exc:
                if attempt + 1 >= tries:
                    raise
                if self.subscribers:
                    self.emit(ev.RETRY, job, exc)
                await asyncio.sleep((job.backoff or 0) * 2 ** attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def finished(self, job: Any) -> None:
        """Count a finished job, then release its successors: each one whose requirements
        are all finished starts - or, when one of them failed and its policy says so, is
        skipped and released in turn (iteratively: long skipped chains need no recursion)."""
        if self.aborted_by is not None:
            return
        skipped: list | None = None
        while True:
            if not job.forever:
                self.remaining -= 1
            failed = job._aj_exc is not None
            for nxt in successors_of(job):
                if failed and nxt._aj_reqfail is None:
                    nxt._aj_reqfail = job
                left = nxt._aj_pending - 1
                nxt._aj_pending = left
                if not left:
                    if nxt._aj_reqfail is not None and nxt.failed_requirement_policy() == "skip":
                        nxt._aj_state = SKIPPED
                        nxt._aj_exc = JobSkipped(nxt._aj_reqfail)
                        if self.subscribers:
                            self.emit(ev.SKIPPED, nxt, nxt._aj_exc)
                        if skipped is None:
                            skipped = []
                        skipped.append(nxt)
                    else:
                        self.start(nxt)
            if not skipped:
                break
            job = skipped.pop()
        if self.remaining <= 0 and not self.fut.done():
            self.fut.set_result(None)
