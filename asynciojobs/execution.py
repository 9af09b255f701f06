"""The execution of a scheduler's jobs (a :class:`Run`): starts each job once its
requirements are finished, in O(jobs + edges).

Each job carries a counter of unfinished requirements (``_aj_pending``) and the list of
jobs requiring it (``_aj_succ``), prepared by the scheduler. A finished job decrements its
successors' counters and starts those reaching zero: no scan of all jobs per event, and no
task exists for a job that is not ready (nor more than MAX_UNSTARTED tasks that did not
begin yet: the others wait in a backlog, in order). Every task is registered with its Run
and cancelled and awaited at the end if still there (structured, as with a TaskGroup, but
without a done callback - one turn of the event loop - per job); the jobs window is an
``asyncio.Semaphore`` held with ``async with`` (a slot comes back even when a job raises;
forever jobs take no slot, so they cannot starve the window); the global deadline is
``asyncio.timeout()``. Time is the loop's clock only.
"""

from __future__ import annotations

import asyncio
import functools
import time
from asyncio.base_events import BaseEventLoop
from collections import deque
from typing import Any

from . import events as ev
from .errors import JobSkipped
from .job import AbstractJob
from .states import DONE, RUNNING, SCHEDULED, SKIPPED

OK, TIMED_OUT, CRITICAL = "ok", "timeout", "critical"
# tasks are created for ready jobs as soon as fewer than this many wait for their first step:
# a wide graph then never holds tens of thousands of not-yet-running tasks (memory, GC)
MAX_UNSTARTED = 1000
# read through the base class: a subclass's own attribute of that name cannot interfere
policy_of = AbstractJob.failed_requirement_policy


def successors_of(job: Any) -> Any:
    """The jobs requiring ``job`` in the current run (``_aj_succ``: None, a job or a list)."""
    succ = job._aj_succ
    if succ is None:
        return ()
    return succ if type(succ) is list else (succ,)


def task_maker(loop: asyncio.AbstractEventLoop) -> Any:
    """``asyncio.Task`` itself when the loop would only call it (a standard loop without a
    task factory): no Python frame per job; else the loop's ``create_task``."""
    if (
        loop.get_task_factory() is None
        and getattr(type(loop), "create_task", None) is BaseEventLoop.create_task
    ):
        return functools.partial(asyncio.Task, loop=loop)
    return loop.create_task


def clock_of(loop: asyncio.AbstractEventLoop) -> Any:
    """The loop's ``time``: ``time.monotonic`` itself when the loop would only call it (no
    Python frame, twice per job), else the loop's own (a virtual clock, say)."""
    if getattr(type(loop), "time", None) is BaseEventLoop.time:
        return time.monotonic
    return loop.time


class Run:
    """One execution of one scheduler's jobs (nested schedulers make their own Run).

    Each task is registered in ``tasks`` (job -> task) and leaves it when its job is over,
    from inside the task (no done callback, so no extra turn of the loop per job). Whatever
    is still registered at the end - forever jobs, or everything after an emergency exit, a
    timeout or a cancellation - is cancelled and awaited before ``execute()`` returns: no
    task outlives its run, as with a TaskGroup.
    """

    __slots__ = (
        "aborted_by",
        "backlog",
        "fatal",
        "fut",
        "loop",
        "make_task",
        "now",
        "on_done",
        "on_started",
        "remaining",
        "scheduler",
        "sem",
        "stopping",
        "subscribers",
        "tasks",
        "to",
        "unstarted",
    )

    def __init__(self, scheduler: Any, jobs_window: int | None, subscribers: list[Any]) -> None:
        self.scheduler = scheduler
        self.loop = asyncio.get_running_loop()
        self.make_task = task_maker(self.loop)
        self.now = clock_of(self.loop)
        self.sem = asyncio.Semaphore(jobs_window) if jobs_window else None
        self.remaining = 0  # non-forever jobs not finished yet
        self.tasks: dict[Any, asyncio.Task[Any]] = {}  # job -> its task, while it has one
        self.unstarted = 0  # tasks created whose coroutine did not begin yet
        self.backlog: deque[Any] = deque()  # ready jobs waiting for their task to be created
        self.fut: asyncio.Future[None] = self.loop.create_future()
        self.aborted_by: Any = None
        self.fatal: BaseException | None = None  # a BaseException a job raised (not Exception)
        self.stopping = False  # no new task once the end is decided
        self.subscribers = subscribers
        self.to: dict[str, list[Any]] = dict.fromkeys(ev.KINDS, subscribers)  # kind -> subscribers
        self.on_started = self.on_done = subscribers  # self.to's two frequent kinds

    def emit(self, kind: str, job: Any, exception: BaseException | None = None) -> None:
        """Deliver one event to the subscribers of its kind (callers check there are some)."""
        ev.emit(self.to[kind], kind, job, self.loop.time(), self.scheduler, exception)

    def listen(self) -> None:
        """Once "run-started" is delivered: which subscribers want which kinds (see
        :func:`asynciojobs.events.wants`) - no event is made for a kind nobody wants."""
        self.to = {kind: [s for s in self.subscribers if ev.wants(s, kind)] for kind in ev.KINDS}
        self.on_started, self.on_done = self.to[ev.STARTED], self.to[ev.DONE]

    async def execute(self, jobs: Any, entries: list[Any], timeout: float | None) -> str:
        """Run until every non-forever job finished, a critical job failed, or the timeout."""
        self.remaining = sum(1 for job in jobs if not job.forever)
        cm = asyncio.timeout(timeout)
        try:
            async with cm:
                try:
                    for job in entries:
                        self.start(job)
                    await self.fut
                finally:
                    await self.stop()
        except TimeoutError:
            if not cm.expired():
                raise
            return TIMED_OUT
        if self.fatal is not None:
            raise self.fatal
        return CRITICAL if self.aborted_by is not None else OK

    async def stop(self) -> None:
        """Cancel the tasks still registered and wait for them, even if this task is
        cancelled meanwhile (the cancellation is passed on afterwards)."""
        self.stopping = True
        self.backlog.clear()
        cancelled = False
        while self.tasks:
            tasks = list(self.tasks.values())
            for task in tasks:
                task.cancel()
            try:
                await asyncio.wait(tasks)
            except asyncio.CancelledError:
                cancelled = True
            for job, task in list(self.tasks.items()):
                if task.done():  # cancelled before its first step: run_job never ran
                    del self.tasks[job]
        if cancelled:
            raise asyncio.CancelledError

    def start(self, job: Any) -> None:
        """Start a ready job: create its task, unless too many tasks have not begun yet."""
        job._aj_state = SCHEDULED
        if self.stopping:
            return  # the run is ending: the job stays scheduled
        if self.unstarted >= MAX_UNSTARTED:
            self.backlog.append(job)
        else:  # create_task(), inlined: this runs once per job
            coro = self.run_job(job) if self.sem is None or job.forever else self.windowed(job)
            self.tasks[job] = self.make_task(coro)
            self.unstarted += 1

    def create_task(self, job: Any) -> None:
        coro = self.run_job(job) if self.sem is None or job.forever else self.windowed(job)
        self.tasks[job] = self.make_task(coro)
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
            self.unstarted -= 1  # began(), inlined: this runs once per job
            if self.backlog:
                self.create_task(self.backlog.popleft())
        now = self.now
        job._aj_state = RUNNING
        job._aj_t0 = now()
        if self.on_started:
            ev.emit(self.on_started, ev.STARTED, job, job._aj_t0, self.scheduler)
        try:
            if job._aj_timeout is None and not job._aj_retries:
                result = await job._aj_execute()
            else:
                result = await self.attempts(job)
        except asyncio.CancelledError:
            job._aj_cancelled = True
            job._aj_t1 = now()  # when it stopped: reports draw its bar to there
            del self.tasks[job]
            if self.subscribers:
                self.emit(ev.CANCELLED, job)
            raise
        except Exception as exc:
            self.failed(job, exc)
        except BaseException as exc:  # KeyboardInterrupt, SystemExit...: ends the run
            self.fatal_error(job, exc)
            return
        else:
            job._aj_result = result
            job._aj_t1 = now()
            job._aj_state = DONE
            if self.on_done:
                ev.emit(self.on_done, ev.DONE, job, job._aj_t1, self.scheduler)
        del self.tasks[job]
        if self.aborted_by is None:
            self.finished(job)

    def failed(self, job: Any, exc: Exception) -> None:
        """A job raised: record it; a critical one aborts the run (off the hot path)."""
        job._aj_exc = exc
        job._aj_t1 = self.loop.time()
        job._aj_state = DONE
        if self.subscribers:
            self.emit(ev.FAILED, job, exc)
        if self.aborted_by is None and job.is_critical():
            self.aborted_by = job
            if not self.fut.done():
                self.fut.set_result(None)

    def fatal_error(self, job: Any, exc: BaseException) -> None:
        """A job raised KeyboardInterrupt, SystemExit...: record it and end the run."""
        job._aj_exc = exc
        job._aj_t1 = self.loop.time()
        job._aj_state = DONE
        del self.tasks[job]
        if self.fatal is None:
            self.fatal = exc
        if not self.fut.done():
            self.fut.set_result(None)

    async def attempts(self, job: Any) -> Any:
        """Per-job timeout (each attempt) and retries with exponential backoff."""
        tries = 1 + job._aj_retries
        timeout = job._aj_timeout
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
                await asyncio.sleep(job._aj_backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def finished(self, job: Any) -> None:
        """Count a finished job, then release its successors: each one whose requirements
        are all finished starts - or, when one of them failed and its policy says so, is
        skipped and released in turn (iteratively: long skipped chains need no recursion)."""
        skipped: list[Any] | None = None
        while True:
            if not job.forever:
                self.remaining -= 1
            succ = job._aj_succ  # None, one job, or a list (see successors_of)
            if succ is not None:
                if job._aj_exc is not None:
                    skipped = self.release_after_failure(job, skipped)
                elif type(succ) is list:
                    for nxt in succ:
                        left = nxt._aj_pending - 1
                        nxt._aj_pending = left
                        if not left:
                            if nxt._aj_reqfail is None:
                                self.start(nxt)
                            else:
                                skipped = self.start_or_skip(nxt, skipped)
                else:
                    left = succ._aj_pending - 1
                    succ._aj_pending = left
                    if not left:
                        if succ._aj_reqfail is None:
                            self.start(succ)
                        else:
                            skipped = self.start_or_skip(succ, skipped)
            if not skipped:
                break
            job = skipped.pop()
        if self.remaining <= 0 and not self.fut.done():
            self.fut.set_result(None)

    def release_after_failure(self, job: Any, skipped: list[Any] | None) -> list[Any] | None:
        """Successors of a job that raised (or was skipped): they remember it."""
        for nxt in successors_of(job):
            if nxt._aj_reqfail is None:
                nxt._aj_reqfail = job
            left = nxt._aj_pending - 1
            nxt._aj_pending = left
            if not left:
                skipped = self.start_or_skip(nxt, skipped)
        return skipped

    def start_or_skip(self, job: Any, skipped: list[Any] | None) -> list[Any] | None:
        """A job whose requirements are all finished: start it, unless one of them failed
        and its policy is "skip": then it joins ``skipped`` (made if None, and returned),
        to release its own successors in turn."""
        if job._aj_reqfail is not None and policy_of(job) == "skip":
            job._aj_state = SKIPPED
            job._aj_exc = JobSkipped(job._aj_reqfail)
            if self.subscribers:
                self.emit(ev.SKIPPED, job, job._aj_exc)
            if skipped is None:
                skipped = []
            skipped.append(job)
        else:
            self.start(job)
        return skipped
