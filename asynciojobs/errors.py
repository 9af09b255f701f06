"""Exceptions raised by asynciojobs.

Every error of ours derives from :class:`AsyncioJobsError`; each also derives from the
builtin exception a caller of the public asynciojobs would have caught (``ValueError``,
``RuntimeError``, ``TypeError``, ``TimeoutError``), so old ``except`` clauses keep working.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .badges import job_label


def _names(jobs: Iterable[Any]) -> str:
    """A short human list of job labels, for messages."""
    out = []
    for job in jobs:
        try:
            out.append(job_label(job))
        except Exception:
            out.append(repr(job))
    return ", ".join(f"`{name}`" for name in out)


class AsyncioJobsError(Exception):
    """Root of the errors raised by asynciojobs."""


class CycleError(AsyncioJobsError, ValueError):
    """The requirements of a scheduler's jobs form a cycle; ``jobs`` lists the cycle in order."""

    def __init__(self, jobs: list[Any]) -> None:
        self.jobs = list(jobs)
        path = _names(self.jobs + self.jobs[:1])
        super().__init__(
            f"requirements form a cycle: {path.replace(', ', ' -> ')}; "
            "remove one of these requirements with job.requires(other, remove=True)"
        )


class ForeignRequirementError(AsyncioJobsError, ValueError):
    """A job requires a job that is not in the same scheduler."""

    def __init__(self, job: Any, requirement: Any) -> None:
        self.job = job
        self.requirement = requirement
        super().__init__(
            f"job {_names([job])} requires {_names([requirement])}, which is not in the same "
            "scheduler; add it to that scheduler, or call scheduler.sanitize() to drop the link"
        )


class JobReuseError(AsyncioJobsError, RuntimeError):
    """A job built from a coroutine object was asked to run a second time."""

    def __init__(self, jobs: Iterable[Any]) -> None:
        self.jobs = list(jobs)
        super().__init__(
            f"job(s) {_names(self.jobs)} wrap a coroutine object, which can run only once; "
            "build them as Job(async_function, *args) to run them again"
        )


class NestedLoopError(AsyncioJobsError, RuntimeError):
    """A synchronous entry point (``run()``...) was called from inside a running event loop."""

    def __init__(self, what: str = "run", instead: str | None = None) -> None:
        instead = instead or f"await scheduler.co_{what}()"
        super().__init__(
            f"{what}() cannot be called from inside a running event loop "
            f"(a notebook, or async code): use `{instead}` instead"
        )


class JobSkipped(AsyncioJobsError):
    """Recorded as the reason of a job skipped because one of its requirements failed."""

    def __init__(self, requirement: Any) -> None:
        self.requirement = requirement
        super().__init__(f"skipped: requirement {_names([requirement])} failed")


class SchedulerTimeoutError(AsyncioJobsError, TimeoutError):
    """A critical nested scheduler went over its own timeout."""

    def __init__(self, scheduler: Any, timeout: float) -> None:
        self.scheduler = scheduler
        self.timeout = timeout
        super().__init__(
            f"critical scheduler {_names([scheduler])} took too long (timeout {timeout}s)"
        )


class GraphvizMissingError(AsyncioJobsError, RuntimeError):
    """The ``dot`` program (graphviz) is needed and cannot be found or failed."""
