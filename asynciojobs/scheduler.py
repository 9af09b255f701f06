"""PureScheduler (a set of jobs to run) and Scheduler (the same, and also a job: it nests).

Semantics follow the asynciojobs READMEs: a scheduler's default is ``critical=False`` and
a job without its own ``critical`` takes its scheduler's; a top-level ``run()`` /
``orchestrate()`` returns False on a global timeout or a critical failure; a critical
nested scheduler raises its critical job's exception into its parent. Cycles, foreign
requirements and spent coroutine jobs are reported before any job starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from . import events as ev
from . import graph
from .badges import job_label
from .compat import LegacySchedulerMixin
from .dot import DotMixin
from .errors import (
    CycleError,
    ForeignRequirementError,
    JobReuseError,
    NestedLoopError,
    SchedulerTimeoutError,
)
from .execution import CRITICAL, OK, TIMED_OUT, Run
from .job import AbstractJob, Job, flatten_jobs, left_scheduler
from .jobset import JobSet
from .loops import new_runner
from .render import RenderMixin
from .settings import RunSettingsMixin
from .states import IDLE, SKIPPED
from .surgery import GraphMethods

logger = logging.getLogger("asynciojobs.scheduler")
_UNSET: Any = object()


def no_running_loop(what: str) -> None:
    """Raise NestedLoopError when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise NestedLoopError(what)


class PureScheduler(LegacySchedulerMixin, GraphMethods, RenderMixin, DotMixin, RunSettingsMixin):
    """A set of jobs with requirements, run with ``run()`` / ``await co_run()`` -> bool.

    ``jobs_window``: at most that many jobs running at once (None or 0: no limit).
    ``timeout``: global deadline in seconds (the run returns False when it hits).
    ``shutdown_timeout``: how long ``co_shutdown()`` waits for the jobs' own shutdowns.
    ``watch``: a :class:`~asynciojobs.watch.Watch` for verbose time stamps. ``verbose``:
    print the run's progress. ``critical`` / ``on_failed_requirement``: defaults for the
    jobs that do not set their own.
    """

    _aj_is_scheduler = True  # what graph.is_scheduler() looks for
    _aj_entrusted: Any = None  # coroutines of its jobs to close if never awaited (job._entrust)

    def __init__(
        self,
        *jobs_or_sequences: Any,
        jobs_window: int | None = None,
        timeout: float | None = None,
        shutdown_timeout: float | None = 1,
        watch: Any = None,
        verbose: bool = False,
        critical: bool | None = None,
        on_failed_requirement: str | None = None,
    ) -> None:
        self.jobs = JobSet(owner=self)
        self.jobs_window = jobs_window
        self.timeout = timeout
        self.shutdown_timeout = shutdown_timeout
        self.watch = watch
        self.verbose = verbose
        if not isinstance(self, AbstractJob):  # a Scheduler got them as a job
            self.critical = critical
            RunSettingsMixin.set_run_settings(self, on_failed_requirement=on_failed_requirement)
        self.shutdown_errors: list[tuple[Any, BaseException]] = []
        self._aj_subscribers: list[ev.Subscriber] = []
        self._aj_failed_timeout: float | None = None
        self._aj_failed_critical = False
        self._aj_did_shutdown = False
        self._aj_running = False
        self.update(jobs_or_sequences)

    # ---- set-like API
    def add(self, job: AbstractJob) -> AbstractJob:
        """Add one job (or a Sequence's jobs); returns what was given."""
        # (the type checker cannot see that a Scheduler is both an AbstractJob and a PureScheduler)
        if isinstance(job, AbstractJob) and job._aj_parent is None and job is not self:  # type: ignore[comparison-overlap]
            self.jobs._aj_items[job] = None  # the usual case, made cheap: a new job
            job._aj_parent = self
        else:
            self.update([job])
        return job

    def update(self, jobs: Iterable[Any]) -> PureScheduler:
        """Add jobs, Sequences, or nested iterables of them; returns self."""
        for job in flatten_jobs(jobs, what="scheduler member"):
            if job is self:
                raise ValueError("a scheduler cannot contain itself")
            previous = job._aj_parent
            if previous is not None and previous is not self:
                if job in previous.jobs:
                    logger.warning(
                        "job %s is already in another scheduler (%s): a job belongs to "
                        "one scheduler; it now takes its defaults from this one",
                        job_label(job),
                        previous._aj_name(),
                    )
                left_scheduler(job, previous)
            self.jobs._aj_items[job] = None
            job._aj_parent = self
        return self

    def remove(self, job: AbstractJob) -> PureScheduler:
        """Remove a member job (KeyError if absent); returns self."""
        self.jobs.remove(job)
        return self

    def __len__(self) -> int:
        return len(self.jobs)

    def __iter__(self) -> Iterator[AbstractJob]:
        return iter(self.jobs)

    def __contains__(self, job: Any) -> bool:
        return job in self.jobs

    # ---- events
    def subscribe(self, callback: ev.Subscriber) -> Any:
        """Call ``callback(event)`` for each job event; returns a function that unsubscribes.

        See :mod:`asynciojobs.events` for the kinds of events and their fields.
        """
        self._aj_subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._aj_subscribers:
                self._aj_subscribers.remove(callback)

        return unsubscribe

    def _aj_all_subscribers(self) -> list[ev.Subscriber]:
        subs: list[ev.Subscriber] = []
        node: Any = self
        while node is not None:
            subs.extend(getattr(node, "_aj_subscribers", ()))
            node = node._aj_parent if isinstance(node, AbstractJob) else None
        if self.verbose:
            from .watch import feedback_printer

            subs.append(feedback_printer(self))
        return subs

    # ---- running
    def run(
        self, *, timeout: Any = _UNSET, jobs_window: Any = _UNSET, monitor: Any = False
    ) -> bool:
        """Synchronous ``co_run()`` in a fresh event loop; not usable inside a running loop."""
        no_running_loop("run")
        with new_runner() as runner:
            return runner.run(
                self.co_run(timeout=timeout, jobs_window=jobs_window, monitor=monitor)
            )

    async def co_run(
        self, *, timeout: Any = _UNSET, jobs_window: Any = _UNSET, monitor: Any = False
    ) -> bool:
        """Run every job; True when all non-forever jobs finished and no critical job failed.

        ``timeout`` / ``jobs_window`` override the scheduler's settings for this run.
        ``monitor``: True shows the run live on stderr (:class:`~asynciojobs.monitor.Monitor`;
        a Monitor instance may be given instead). Every job's ``co_shutdown()`` is awaited at
        the end, whatever the outcome.
        """
        if not monitor:
            return await self._aj_run(timeout, jobs_window, nested=False)
        from .monitor import monitoring

        with monitoring(self, monitor):
            return await self._aj_run(timeout, jobs_window, nested=False)

    def export_as_report(self, filename: str | Path, title: str | None = None) -> str:
        """Write the run report - timeline, graph coloured by outcome, summary - as one
        self-contained HTML file (:mod:`asynciojobs.report`), after or during a run;
        returns the file name."""
        from .record import snapshot
        from .report import write_report

        return write_report(snapshot(self, title), filename)

    async def _aj_run(self, timeout: Any, jobs_window: Any, *, nested: bool) -> bool:
        if self._aj_running:
            raise RuntimeError(
                f"{self._aj_name()} is already running: wait for that run "
                "to finish before starting another one"
            )
        timeout = self.timeout if timeout is _UNSET else timeout
        window = self.jobs_window if jobs_window is _UNSET else jobs_window
        if not nested:
            self._aj_check_tree()
        entries = self._aj_prepare()
        self._aj_failed_timeout = None
        self._aj_failed_critical = False
        self._aj_did_shutdown = False
        self.shutdown_errors = []
        subscribers = self._aj_all_subscribers()
        if self.verbose and not nested:
            from .render import number_jobs

            number_jobs(self)
        run = Run(self, window, subscribers)
        if subscribers:
            run.emit(ev.RUN_STARTED, self)
            run.listen()
        outcome = OK
        self._aj_running = True
        try:
            if self.jobs:
                outcome = await run.execute(self.jobs, entries, timeout)
        finally:
            if outcome == TIMED_OUT:
                self._aj_failed_timeout = timeout
                logger.warning("%s: TIMEOUT occurred after %ss", self._aj_name(), timeout)
            elif outcome == CRITICAL:
                self._aj_failed_critical = True
                logger.warning(
                    "%s: emergency exit upon exception in critical job %s",
                    self._aj_name(),
                    job_label(run.aborted_by),
                )
            self._aj_running = False
            await _despite_cancellation(self.co_shutdown())
            if subscribers:
                run.emit(ev.FINISHED, self)
        return outcome == OK

    def _aj_name(self) -> str:
        label = getattr(self, "label", None)
        return f"scheduler `{label}`" if label else "scheduler"

    def _aj_check_tree(self) -> None:
        """Before a top-level run: cycles, foreign links and spent jobs anywhere, nested too.

        This scheduler's own graph is checked by ``_aj_prepare()``; nested ones here, so
        that nothing starts when a nested graph is broken.
        """
        spent = []
        check_spent = Job._aj_spent_total > 0
        for sched in self.iterate_jobs(scan_schedulers=True):
            if not isinstance(sched, PureScheduler):
                if check_spent and isinstance(sched, Job) and sched._aj_once and sched._aj_used:
                    spent.append(sched)
                continue
            sched._aj_did_shutdown = False
            if sched is self:
                continue
            members = sched.jobs
            for job, req in graph.foreign_requirements(members):
                raise ForeignRequirementError(job, req)
            cycle = graph.find_cycle(members)
            if cycle:
                raise CycleError(cycle)
        if spent:
            raise JobReuseError(spent)

    # run-wide numbering of the jobs prepared for a run: each preparation takes the next
    # range of numbers, so that a job's ``_aj_kahn`` below the current base was not seen yet
    _aj_next_base = 0

    def _aj_prepare(self) -> list[AbstractJob]:
        """Reset the jobs, count their requirements, link successors; returns entry jobs.

        Raises ForeignRequirementError or CycleError before anything runs. The usual graph
        is built in order (every job added after its requirements): one pass then does it
        all, and the graph cannot have a cycle. Otherwise - a requirement not seen yet -
        the general two-pass preparation takes over, with Kahn's algorithm for cycles.
        """
        members = self.jobs
        base = PureScheduler._aj_next_base
        PureScheduler._aj_next_base = base + len(members) + 1
        index = base
        entries: list[AbstractJob] = []
        for job in members:
            if job._aj_state or job._aj_reqfail is not None:
                _reset(job)  # it ran, or was about to: clear its previous run
            job._aj_succ = None
            job._aj_kahn = index
            index += 1
            required = job._aj_required  # None, one job, a tuple or a set
            if required is None or (type(required) is set and not required):
                job._aj_pending = 0
                entries.append(job)
                continue
            if type(required) is not tuple and type(required) is not set:
                required = (required,)
            job._aj_pending = len(required)
            for req in required:
                if not base <= req._aj_kahn < index:  # not seen yet: out of order or foreign
                    return self._aj_prepare_any_order()
                succ = req._aj_succ  # None, one job, or a list (saves a list per chain link)
                if succ is None:
                    req._aj_succ = job
                elif type(succ) is list:
                    succ.append(job)
                else:
                    req._aj_succ = [succ, job]
        return entries

    def _aj_prepare_any_order(self) -> list[AbstractJob]:
        """``_aj_prepare()`` for graphs not built in order (and foreign requirements)."""
        members = self.jobs
        entries: list[AbstractJob] = []
        for index, job in enumerate(members):
            job._aj_succ = None
            job._aj_kahn = index
        in_order = True
        for index, job in enumerate(members):
            if job._aj_state or job._aj_reqfail is not None:
                _reset(job)
            required = job._aj_required  # None, one job, a tuple or a set
            if required is None or (type(required) is set and not required):
                job._aj_pending = 0
                entries.append(job)
                continue
            if type(required) is not tuple and type(required) is not set:
                required = (required,)
            job._aj_pending = len(required)
            for req in required:
                if req._aj_parent is not self and req not in members:
                    raise ForeignRequirementError(job, req)
                if req._aj_kahn >= index:
                    in_order = False
                succ = req._aj_succ
                if succ is None:
                    req._aj_succ = job
                elif type(succ) is list:
                    succ.append(job)
                else:
                    req._aj_succ = [succ, job]
        if not in_order:
            graph.topological_order(members)  # raises CycleError naming a cycle
        return entries

    async def co_shutdown(self) -> bool | None:
        """Await every job's ``co_shutdown()`` concurrently, within ``shutdown_timeout``.

        Once per run (a second call returns None). Returns True when all completed in time;
        stragglers are cancelled. Exceptions are retrieved, logged and kept in
        ``shutdown_errors`` as (job, exception) pairs.
        """
        if self._aj_did_shutdown:
            return None
        self._aj_did_shutdown = True
        pairs = [(job, job.co_shutdown()) for job in self.jobs if _has_shutdown(job)]
        if not pairs:
            return True
        tasks = {asyncio.ensure_future(coro): job for job, coro in pairs}
        done, pending = await asyncio.wait(tasks, timeout=self.shutdown_timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
            logger.warning(
                "%s: %d shutdown(s) did not complete within %ss",
                self._aj_name(),
                len(pending),
                self.shutdown_timeout,
            )
        for task in list(done) + list(pending):
            if task.cancelled():
                continue
            exc = task.exception()
            if exc is not None:
                self.shutdown_errors.append((tasks[task], exc))
                logger.warning(
                    "co_shutdown of %s raised %s: %s",
                    job_label(tasks[task]),
                    type(exc).__name__,
                    exc,
                )
        return not pending

    def shutdown(self) -> bool | None:
        """Synchronous ``co_shutdown()``."""
        no_running_loop("shutdown")
        with new_runner() as runner:
            return runner.run(self.co_shutdown())

    def failed_time_out(self) -> float | None:
        """The timeout that expired during the last run, else None."""
        return self._aj_failed_timeout

    def failed_critical(self) -> bool:
        """Whether the last run stopped because a critical job raised."""
        return self._aj_failed_critical

    def why(self) -> str:
        """One line on the outcome of the last run."""
        if self._aj_failed_timeout is not None:
            return f"TIMED OUT after {self._aj_failed_timeout}s"
        if self._aj_failed_critical:
            return "a CRITICAL job has raised an exception"
        return "FINE"


async def _despite_cancellation(coro: Any) -> Any:
    """Await ``coro`` to its end even if the awaiting task is cancelled meanwhile (a second
    Ctrl-C during the teardown): a half-done shutdown leaves connections and remote processes
    behind. The cancellation is passed on once ``coro`` is over; ``coro`` is bounded by
    ``shutdown_timeout``."""
    task = asyncio.ensure_future(coro)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            if task.done():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return result


def _reset(job: Any) -> None:
    """Back to idle: forget what a previous run left on ``job``."""
    job._aj_state = IDLE
    job._aj_result = job._aj_exc = job._aj_reqfail = job._aj_t0 = job._aj_t1 = None
    job._aj_cancelled = False
    job._aj_attempts = 0


def _has_shutdown(job: Any) -> bool:
    """Whether awaiting this job's ``co_shutdown()`` can do anything (saves tasks)."""
    method = type(job).co_shutdown
    if method is AbstractJob.co_shutdown:
        return False
    if method is Job.co_shutdown:
        return job.coshutdown is not None
    return True


class Scheduler(PureScheduler, AbstractJob):
    """A PureScheduler that is also a job: it can be nested in another scheduler, with its
    own window, timeout and forever jobs. Keyword arguments beyond the scheduler's go to
    :class:`AbstractJob` (``critical``, ``forever``, ``label``, ``required``,
    ``scheduler``...). When nested and critical, a failure raises into the parent: the
    exception of its critical job, or SchedulerTimeoutError on its own timeout."""

    def __init__(
        self,
        *jobs_or_sequences: Any,
        jobs_window: int | None = None,
        timeout: float | None = None,
        shutdown_timeout: float | None = 1,
        watch: Any = None,
        verbose: bool = False,
        **kwds: Any,
    ) -> None:
        AbstractJob.__init__(self, **kwds)
        PureScheduler.__init__(
            self,
            *jobs_or_sequences,
            jobs_window=jobs_window,
            timeout=timeout,
            shutdown_timeout=shutdown_timeout,
            watch=watch,
            verbose=verbose,
        )

    def _aj_execute(self) -> Any:
        return self._aj_run_nested()

    async def _aj_run_nested(self) -> bool:
        ok = await self._aj_run(_UNSET, _UNSET, nested=True)
        if not ok and self.is_critical():
            if self._aj_failed_timeout is not None:
                raise SchedulerTimeoutError(self, self._aj_failed_timeout)
            for job in self.jobs:
                exc = job.raised_exception()
                if exc is not None and job.is_critical() and job._aj_state != SKIPPED:
                    raise exc
        return ok

    def text_label(self) -> str:
        return "Scheduler"
