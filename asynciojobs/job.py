"""Jobs: what a scheduler runs.

:class:`AbstractJob` holds what every job has (requirements, flags, run state, display hooks);
subclasses provide ``co_run()`` (and optionally ``co_shutdown()``). :class:`Job` wraps either
an async callable plus its arguments (can run again) or a coroutine object (the historical
form, runs once).

Subclasses may set public attributes (``label``, ``critical``...) before calling
``super().__init__()``: the base keeps them unless an explicit value is passed. Our own run
state lives in ``_aj_*`` slots so that it does not collide with subclasses' attributes.
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import logging
import types
import weakref
from collections.abc import Iterable
from typing import Any

from .badges import JobDisplay
from .errors import JobReuseError, NestedLoopError
from .loops import new_runner
from .settings import RunSettingsMixin
from .states import DONE, IDLE, RUNNING, SCHEDULED, SKIPPED

logger = logging.getLogger("asynciojobs.job")

_CoroutineType = types.CoroutineType
_LEGACY_POSITIONALS = ("forever", "label", "critical", "required")


def flatten_jobs(
    items: Iterable[Any], what: str = "requirement", sequence_as_last: bool = False
) -> list[Any]:
    """Jobs found in ``items``: jobs, Sequences, None, nested iterables.

    A Sequence stands for all its jobs, or with ``sequence_as_last`` for its last one
    (what requiring a sequence means). Raises TypeError naming the first item that is
    none of these.
    """
    out: list[Any] = []
    stack = [iter(items)]
    while stack:
        for item in stack[-1]:
            if item is None:
                continue
            if isinstance(item, AbstractJob):
                out.append(item)
            elif getattr(type(item), "_aj_is_sequence", False):
                if not sequence_as_last:
                    out.extend(item.jobs)
                elif item.jobs:
                    out.append(item.jobs[-1])
            elif isinstance(item, (str, bytes)) or not hasattr(item, "__iter__"):
                raise TypeError(
                    f"{what} {item!r} (of type {type(item).__name__}) is not a job: expected "
                    "jobs, Sequences, None, or lists/tuples/sets of them"
                )
            else:
                stack.append(iter(item))
                break
        else:
            stack.pop()
    return out


def _first_requirements(job: Any, required: Any) -> Any:
    """What ``_aj_required`` holds for ``job`` given ``required`` (its first requirements):
    None, one job, a tuple of distinct jobs, or a set - the tuple saves most of a set's
    memory (and the garbage collector's time) on graphs of 100,000 jobs; ``required``
    turns it into a set when it is read or changed."""
    if type(required) in (list, tuple, set):
        count = len(required)
        if not count:
            return None
        if count == 1:
            for single in required:
                if isinstance(single, AbstractJob):
                    return None if single is job else single
        else:
            for item in required:
                if item is job or not isinstance(item, AbstractJob):
                    break
            else:  # jobs other than this one: a tuple, unless one is there twice
                if type(required) is set:
                    return tuple(required)
                if count == 2:
                    first, second = required
                    if first is not second:
                        return tuple(required)
                    return first
                if count == 3:
                    first, second, third = required
                    if first is not second and first is not third and second is not third:
                        return tuple(required)
                reqs = set(required)
                if len(reqs) == count:
                    return tuple(required)
                return reqs if len(reqs) != 1 else reqs.pop()
    elif isinstance(required, AbstractJob):
        return None if required is job else required
    reqs = set(flatten_jobs([required], sequence_as_last=True))
    reqs.discard(job)
    return reqs if reqs else None


class AbstractJob(JobDisplay, RunSettingsMixin):
    """Base of all jobs; override ``async co_run()`` (its return value becomes ``result()``).

    ``forever``: the scheduler does not wait for this job and cancels it once every other
    job is done. ``critical``: an exception in this job aborts its scheduler; ``None`` means
    "as my scheduler" (which defaults to non-critical). ``required``: jobs (or Sequences,
    nested iterables) that must finish before this one starts. ``scheduler``: a scheduler
    to add this job to. Beyond the public asynciojobs: ``timeout`` (seconds, per attempt),
    ``retries`` (extra attempts after an exception, waiting ``backoff * 2**n`` seconds) and
    ``on_failed_requirement`` (``"run"`` - the default - or ``"skip"`` when a requirement
    failed; ``None`` means "as my scheduler"); read them with ``run_settings()``, change them
    with ``set_run_settings()``: the attributes ``timeout``, ``retries``... are left to
    subclasses (see :mod:`asynciojobs.settings`).
    """

    # the public attributes of the public asynciojobs are class-level defaults: an instance
    # stores only what was given, and what a subclass set before calling super().__init__()
    # is never overwritten
    forever: bool = False
    critical: bool | None = None
    label: str | None = None

    __slots__ = (
        "__dict__",
        "__weakref__",
        "_aj_attempts",
        "_aj_cancelled",
        "_aj_exc",
        "_aj_id",
        "_aj_kahn",
        "_aj_parent",
        "_aj_pending",
        "_aj_reqfail",
        "_aj_required",
        "_aj_result",
        "_aj_state",
        "_aj_succ",
        "_aj_t0",
        "_aj_t1",
    )

    # set on a class whose instances are given ``required`` before AbstractJob.__init__ ran
    # (a subclass's __init__ setting self.required first): __init__ then keeps it
    _aj_presets_required = False

    _aj_parent: Any  # the scheduler this job belongs to, or None

    def __init__(
        self,
        *legacy: Any,
        forever: bool | None = None,
        critical: bool | None = None,
        label: str | None = None,
        required: Any = None,
        scheduler: Any = None,
        timeout: float | None = None,
        retries: int | None = None,
        backoff: float | None = None,
        on_failed_requirement: str | None = None,
    ) -> None:
        if legacy:  # very old scripts: AbstractJob(forever, label, critical, required)
            if len(legacy) > len(_LEGACY_POSITIONALS):
                raise TypeError(f"AbstractJob takes at most 4 positional arguments, got {legacy!r}")
            given = dict(zip(_LEGACY_POSITIONALS, legacy, strict=False))  # legacy may be shorter
            forever = given.get("forever", forever)
            label = given.get("label", label)
            critical = given.get("critical", critical)
            required = given.get("required", required)
        self._aj_init(
            forever,
            critical,
            label,
            required,
            scheduler,
            timeout,
            retries,
            backoff,
            on_failed_requirement,
        )

    def _aj_init(
        self,
        forever: Any,
        critical: Any,
        label: Any,
        required: Any,
        scheduler: Any,
        timeout: Any,
        retries: Any,
        backoff: Any,
        on_failed_requirement: Any,
    ) -> None:
        """``__init__`` without its legacy positional form (what Job calls: positional
        arguments are faster to pass, and graphs of 100,000 jobs are built in Python)."""
        if forever is not None:
            self.forever = forever
        if critical is not None:
            self.critical = critical
        if label is not None:
            self.label = label
        if (
            timeout is not None
            or retries is not None
            or backoff is not None
            or on_failed_requirement is not None
        ):
            given = {
                "timeout": timeout,
                "retries": retries,
                "backoff": backoff,
                "on_failed_requirement": on_failed_requirement,
            }
            RunSettingsMixin.set_run_settings(  # not self.: a subclass may use that name
                self, **{key: value for key, value in given.items() if value is not None}
            )
        self._aj_state = IDLE
        self._aj_result = self._aj_exc = self._aj_succ = self._aj_reqfail = None
        self._aj_t0 = self._aj_t1 = self._aj_parent = self._aj_id = None
        self._aj_pending = self._aj_attempts = 0
        self._aj_kahn = -1  # see PureScheduler._aj_prepare()
        self._aj_cancelled = False
        if self._aj_presets_required and hasattr(self, "_aj_required"):
            if required is not None:
                self.requires(required)
        elif required is None or (type(required) is list and not required):
            self._aj_required = None  # None, one job, a tuple or a set (see _first_requirements)
        else:
            self._aj_required = _first_requirements(self, required)
        if scheduler is not None:
            scheduler.add(self)

    # ---- requirements
    @property
    def required(self) -> set[AbstractJob]:
        """The set of jobs this one requires (made on first use: most jobs have none, many
        have only one, which is kept without a set until then, or a few, kept in a tuple)."""
        reqs = self._aj_required
        if type(reqs) is set:
            return reqs
        if reqs is None:
            reqs = set()
        elif type(reqs) is tuple:
            reqs = set(reqs)
        else:
            reqs = {reqs}
        self._aj_required = reqs
        return reqs

    @required.setter
    def required(self, jobs: Any) -> None:
        if not hasattr(self, "_aj_state"):  # before AbstractJob.__init__: it must keep this value
            type(self)._aj_presets_required = True
        self._aj_required = jobs if type(jobs) is set else set(flatten_jobs([jobs]))

    def requires(self, *requirements: Any, remove: bool = False) -> AbstractJob:
        """Add (or with ``remove=True`` drop) requirements; returns self, to chain calls.

        Accepts jobs, Sequences (meaning their last job), None, and nested lists/tuples/
        sets of those; anything else raises TypeError naming it. Requiring oneself is
        ignored (it eases adding a global first step to every job).
        """
        if not remove and len(requirements) == 1:  # fast paths: one job, or a flat list
            item = requirements[0]
            if type(item) in (list, tuple) and len(item) == 1:
                item = item[0]
            if isinstance(item, AbstractJob):
                current = self._aj_required
                if item is self or item is current:
                    return self
                if current is None:
                    self._aj_required = item
                elif type(current) is set:
                    current.add(item)
                elif type(current) is tuple:
                    self._aj_required = {*current, item}
                else:
                    self._aj_required = {current, item}
                return self
            if type(item) in (list, tuple, set):
                for job in item:
                    if not isinstance(job, AbstractJob):
                        break
                else:
                    current = self._aj_required
                    if current is None:
                        self._aj_required = _first_requirements(self, item)
                        return self
                    required = self.required
                    required.update(item)
                    required.discard(self)
                    return self
        required = self.required
        for job in flatten_jobs(requirements, sequence_as_last=True):
            if job is self:
                continue
            if remove:
                required.remove(job)
            else:
                required.add(job)
        return self

    # ---- status
    def is_idle(self) -> bool:
        """Not yet started (requirements not all fulfilled)."""
        return self._aj_state == IDLE

    def is_scheduled(self) -> bool:
        """Started, maybe waiting for a slot in the jobs window (stays True afterwards)."""
        return self._aj_state >= SCHEDULED

    def is_running(self) -> bool:
        """Got its slot and its ``co_run()`` began (stays True once done)."""
        return self._aj_state >= RUNNING

    def is_done(self) -> bool:
        """``co_run()`` finished, with or without an exception."""
        return self._aj_state == DONE

    def is_skipped(self) -> bool:
        """Not run because a requirement failed and the policy says ``"skip"``."""
        return self._aj_state == SKIPPED

    def is_cancelled(self) -> bool:
        """Was running when cancelled (forever job at the end, timeout, emergency exit)."""
        return self._aj_cancelled

    def raised_exception(self) -> BaseException | None:
        """The exception ``co_run()`` raised, or None."""
        return self._aj_exc

    def result(self) -> Any:
        """What ``co_run()`` returned (None if it raised); ValueError if not finished."""
        if self._aj_state != DONE:
            raise ValueError("job not finished")
        return self._aj_result

    def is_critical(self) -> bool:
        """Own ``critical`` flag, else the one of the scheduler holding this job, else False."""
        job: Any = self
        while job is not None:
            critical = getattr(job, "critical", None)
            if critical is not None:
                return bool(critical)
            job = job._aj_parent if isinstance(job, AbstractJob) else None
        return False

    def failed_requirement_policy(self) -> str:
        """``"run"`` or ``"skip"``: own policy, else the enclosing schedulers', else "run"."""
        job: Any = self
        while job is not None:
            policy = getattr(job, "_aj_on_failed", None)
            if policy is not None:
                return str(policy)
            job = getattr(job, "_aj_parent", None)
        return "run"

    def duration(self) -> float | None:
        """Seconds (loop time) between start and end of the last run, if it ended."""
        if self._aj_t0 is None or self._aj_t1 is None:
            return None
        return self._aj_t1 - self._aj_t0

    # ---- hooks to override
    async def co_run(self) -> Any:
        """The job's work; its return value becomes ``result()``."""
        raise NotImplementedError(f"{type(self).__name__}.co_run() needs to be implemented")

    async def co_shutdown(self) -> Any:
        """Called once the scheduler holding this job is finished (whether or not it ran)."""

    def _aj_execute(self) -> Any:
        """The awaitable the scheduler runs; schedulers override it to raise when critical."""
        return self.co_run()

    def standalone_run(self) -> Any:
        """Run just this job's ``co_run()`` in a fresh event loop (ignores requirements)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            with new_runner() as runner:
                return runner.run(self.co_run())
        raise NestedLoopError("standalone_run", "await job.co_run()")


class Job(AbstractJob):
    """A job made of an async callable and its arguments, or of a coroutine object.

    ``Job(fetch, url, label="fetch")`` calls ``fetch(url)`` at each run, so the job (and
    its scheduler) can run again. ``Job(fetch(url))`` - the historical form - runs once;
    a second run raises :class:`JobReuseError`, and a coroutine that never ran is closed
    silently (no "coroutine was never awaited" warning). ``coshutdown`` is an optional
    coroutine object or async callable awaited by ``co_shutdown()``. Keyword arguments for
    the callable: use ``functools.partial``.
    """

    _aj_spent_total = 0  # coroutine jobs consumed so far: no need to look for spent ones if 0

    __slots__ = (
        "_aj_args",
        "_aj_guard",
        "_aj_once",
        "_aj_shut_used",
        "_aj_used",
        "corun",
        "coshutdown",
    )

    _aj_guard: _Guard  # the guard of its batch (coroutine jobs, see _close_if_unused)

    def __init__(
        self,
        corun: Any,
        *args: Any,
        coshutdown: Any = None,
        forever: bool | None = None,
        critical: bool | None = None,
        label: str | None = None,
        required: Any = None,
        scheduler: Any = None,
        timeout: float | None = None,
        retries: int | None = None,
        backoff: float | None = None,
        on_failed_requirement: str | None = None,
    ) -> None:
        self._aj_used = self._aj_shut_used = False
        if type(corun) is _CoroutineType or (not callable(corun) and inspect.isawaitable(corun)):
            self._aj_once = True
            if args and (inspect.isawaitable(args[0]) or callable(args[0])):
                coshutdown, args = args[0], args[1:]  # old Job(corun, coshutdown, ...)
            self.corun = corun
            self._aj_args = ()
            if retries:
                if inspect.iscoroutine(corun):  # never awaited: close it, no warning
                    corun.close()
                raise ValueError(
                    "retries= needs a job that can run again: "
                    "Job(async_function, *args), not Job(coroutine)"
                )
            self.coshutdown = coshutdown
            if args or scheduler is None or type(corun) is not _CoroutineType or coshutdown:
                _close_if_unused(self, corun, coshutdown)
            else:  # its scheduler will close it if it never runs (see _entrust), once added
                try:
                    self._aj_init(
                        forever,
                        critical,
                        label,
                        required,
                        scheduler,
                        timeout,
                        retries,
                        backoff,
                        on_failed_requirement,
                    )
                except BaseException:
                    _close_when_dead(self, corun, None)
                    raise
                if self._aj_parent is scheduler:
                    _entrust(scheduler, corun)
                else:  # a scheduler-like object of the user's that did not adopt the job
                    _close_if_unused(self, corun, None)
                return
            if args:  # old positional flags: Job(corun, [coshutdown,] forever, label, ...)
                AbstractJob.__init__(
                    self,
                    *args,
                    forever=forever,
                    critical=critical,
                    label=label,
                    required=required,
                    scheduler=scheduler,
                    timeout=timeout,
                    backoff=backoff,
                    on_failed_requirement=on_failed_requirement,
                )
                return
        else:
            if not callable(corun):
                raise TypeError(
                    f"Job() needs a coroutine object or an async callable, "
                    f"not {corun!r} (of type {type(corun).__name__})"
                )
            self._aj_once = False
            self.corun = corun
            self._aj_args = args
            self.coshutdown = coshutdown
            if coshutdown is not None:
                _close_if_unused(self, None, coshutdown)
        self._aj_init(
            forever,
            critical,
            label,
            required,
            scheduler,
            timeout,
            retries,
            backoff,
            on_failed_requirement,
        )

    def _aj_execute(self) -> Any:
        if type(self).co_run is not Job.co_run:  # a subclass's own co_run() comes first
            return self.co_run()
        if self._aj_once:  # _aj_call(), inlined: this runs once per job and per run
            if self._aj_used:
                raise JobReuseError([self])
            self._aj_used = True
            Job._aj_spent_total += 1
            return self.corun
        return self.corun(*self._aj_args)  # type: ignore[operator]  # callable form

    def _aj_call(self) -> Any:
        """The awaitable of this run: the coroutine object (once) or a fresh call."""
        if self._aj_once:
            if self._aj_used:
                raise JobReuseError([self])
            self._aj_used = True
            Job._aj_spent_total += 1
            return self.corun
        return self.corun(*self._aj_args)  # type: ignore[operator]  # callable form

    def is_spent(self) -> bool:
        """True for a coroutine-object job that already ran (it cannot run again)."""
        return self._aj_once and self._aj_used

    async def co_run(self) -> Any:
        return await self._aj_call()

    async def co_shutdown(self) -> None:
        shut = self.coshutdown
        if shut is None:
            return
        if inspect.isawaitable(shut):
            if self._aj_shut_used:
                return
            self._aj_shut_used = True
            await shut
        else:
            await shut()


# weak reference -> the coroutine objects to close when its referent dies: a job's (one
# coroutine, or a tuple of them), a scheduler's or a batch's (an _Entrusted record)
_unawaited: dict[weakref.ref[Any], Any] = {}


class _Entrusted:
    """The coroutines entrusted to a scheduler (:func:`_entrust`) or to a batch of jobs
    (:func:`_close_if_unused`), minus those of the jobs that left that scheduler since."""

    __slots__ = ("coros", "left")

    def __init__(self) -> None:
        self.coros: list[Any] = []
        self.left: set[Any] | None = None

    def unawaited(self) -> tuple[Any, ...]:
        left = self.left
        if not left:
            return tuple(self.coros)
        return tuple(coro for coro in self.coros if coro not in left)


class _Guard:
    """What the jobs of one batch hold (``_aj_guard``): it dies when they are all gone."""

    __slots__ = ("__weakref__", "record")

    def __init__(self) -> None:
        self.record = _Entrusted()


# jobs per batch: a job kept alive keeps at most this many never-awaited coroutines of dead
# jobs from being closed (they are closed at exit at the latest)
_BATCH = 64
_batch: weakref.ref[_Guard] | None = None  # the batch being filled (weakly: it may be gone)


def _close_coroutines(coros: Any) -> None:
    if type(coros) is _Entrusted:
        coros = coros.unawaited()
    elif type(coros) is not tuple:
        coros = (coros,)
    for coro in coros:  # only those never started (inspect.getcoroutinestate(), faster)
        if coro.cr_frame is not None and not coro.cr_running and not coro.cr_suspended:
            coro.close()


def _job_died(ref: weakref.ref[Any]) -> None:
    coros = _unawaited.pop(ref, None)
    if coros is not None:
        _close_coroutines(coros)


@atexit.register
def _close_all_unawaited() -> None:
    """At exit, close what jobs still alive never awaited (no warnings at shutdown)."""
    while _unawaited:
        _close_coroutines(_unawaited.popitem()[1])


def _close_when_dead(job: Job, corun: Any, coshutdown: Any) -> None:
    """Close the job's coroutine objects when the job goes away without awaiting them.

    A weak reference with a callback (not ``__del__``) so that it also runs first when the
    job dies in a reference cycle: the garbage collector calls weakref callbacks before
    finalizing the coroutines, which would otherwise warn "coroutine ... was never awaited".
    The coroutines wait in a module-level dict keyed by the weak reference.
    """
    coros: Any
    if type(corun) is _CoroutineType and coshutdown is None:
        coros = corun  # one coroutine, without a tuple
    else:
        coros = tuple(c for c in (corun, coshutdown) if inspect.iscoroutine(c))
        if not coros:
            return
    _unawaited[weakref.ref(job, _job_died)] = coros


def _close_if_unused(job: Job, corun: Any, coshutdown: Any) -> None:
    """:func:`_close_when_dead` for batches of jobs: graphs of 100,000 coroutine jobs are
    built in Python, and a weak reference and a dict entry per job cost as much as the job.

    Each job holds the guard of its batch (``_aj_guard``): the guard dies only once every
    job of the batch is gone, and its weak reference then closes the batch's coroutines
    that never ran - never those of a job still alive, which holds the guard.
    """
    if type(corun) is not _CoroutineType or coshutdown is not None:
        _close_when_dead(job, corun, coshutdown)
        return
    global _batch
    guard = None if _batch is None else _batch()
    if guard is None or len(guard.record.coros) >= _BATCH:
        guard = _Guard()
        _batch = weakref.ref(guard, _job_died)
        _unawaited[_batch] = guard.record
    job._aj_guard = guard
    guard.record.coros.append(corun)


def _entrust(scheduler: Any, corun: Any) -> None:
    """:func:`_close_if_unused` for a job made with ``scheduler=``, for the price of one list
    append (graphs of 100,000 jobs are built this way).

    A job holds its scheduler (``_aj_parent``) and the scheduler its jobs, so they go away
    together: one weak reference to the scheduler closes, when it dies, the coroutines of all
    the jobs entrusted to it. A job that leaves its scheduler (:func:`left_scheduler`) is
    struck off that list and gets a weak reference of its own.
    """
    entrusted = scheduler._aj_entrusted
    if entrusted is None:
        entrusted = scheduler._aj_entrusted = _Entrusted()
        _unawaited[weakref.ref(scheduler, _job_died)] = entrusted
    entrusted.coros.append(corun)


def left_scheduler(job: Any, scheduler: Any) -> None:
    """``job`` no longer belongs to ``scheduler`` (removed, or moved to another one): it may
    now outlive it, so its coroutine, if entrusted to the scheduler (:func:`_entrust`), is
    no longer the scheduler's to close, but the job's own (a weak reference to the job)."""
    entrusted = getattr(scheduler, "_aj_entrusted", None)
    if entrusted is None or not isinstance(job, Job) or not job._aj_once:
        return
    if type(job.corun) is not _CoroutineType:
        return  # never entrusted
    left = entrusted.left
    if left is None:
        left = entrusted.left = set()
    left.add(job.corun)
    if not job._aj_used:
        _close_when_dead(job, job.corun, job.coshutdown)
    if len(left) > 32 and 2 * len(left) > len(entrusted.coros):
        # a scheduler used as a queue (jobs added with scheduler=, run, removed): keep only
        # the coroutines still to close, so that the list does not grow with each job
        entrusted.coros = [c for c in entrusted.coros if c not in left and c.cr_frame is not None]
        entrusted.left = None
