"""Text views of a scheduler: ``list()``, ``list_safe()``, ``debrief()``, ``stats()``.

Status is data (the jobs' states and a :class:`Statistics` object); this module only
renders it. These methods print to stdout on purpose: they are the scheduler's display API.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any

from .graph import is_scheduler
from .states import SKIPPED


@dataclass
class Statistics:
    """Counts by state and durations (loop seconds) of a scheduler's direct jobs."""

    total: int = 0
    idle: int = 0
    scheduled: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    critical_failed: int = 0
    skipped: int = 0
    cancelled: int = 0
    busy_time: float = 0.0  # sum of the durations of finished jobs
    longest: float | None = None  # longest duration of a finished job
    span: float | None = None  # first start to last end
    durations: dict[Any, float] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, jobs: Any) -> Statistics:
        stats = cls()
        first = last = None
        for job in jobs:
            stats.total += 1
            if job._aj_state == SKIPPED:
                stats.skipped += 1
                continue
            if job._aj_cancelled:
                stats.cancelled += 1
            if job.is_done():
                stats.done += 1
                if job.raised_exception() is not None:
                    stats.failed += 1
                    if job.is_critical():
                        stats.critical_failed += 1
                duration = (
                    None if job._aj_t0 is None or job._aj_t1 is None else job._aj_t1 - job._aj_t0
                )
                if duration is not None:
                    stats.durations[job] = duration
                    stats.busy_time += duration
                    if stats.longest is None or duration > stats.longest:
                        stats.longest = duration
                    first = job._aj_t0 if first is None else min(first, job._aj_t0)
                    last = job._aj_t1 if last is None else max(last, job._aj_t1)
            elif job.is_running():
                stats.running += 1
            elif job.is_scheduled():
                stats.scheduled += 1
            else:
                stats.idle += 1
        if first is not None:
            stats.span = last - first
        return stats

    def short(self) -> str:
        """``2D + 3R + 4I = 9`` (done, ongoing, idle) as the public asynciojobs prints it."""
        ongoing = self.running + self.scheduled
        return f"{self.done}D + {ongoing}R + {self.idle + self.skipped}I = {self.total}"

    def summary(self) -> str:
        """One line with every counter and the timings."""
        parts = [
            (
                f"{self.total} job(s): {self.done} done ({self.failed} failed, "
                f"{self.critical_failed} critical)"
            ),
            f"{self.running} running",
            f"{self.scheduled} scheduled",
            f"{self.idle} idle",
        ]
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        if self.cancelled:
            parts.append(f"{self.cancelled} cancelled")
        line = ", ".join(parts)
        if self.span is not None:
            line += (
                f"; span {self.span:.3f}s, busy {self.busy_time:.3f}s, longest {self.longest:.3f}s"
            )
        return line


def number_jobs(scheduler: Any) -> int:
    """Give every job (nested too) its display id, in topological order; returns the width."""
    total = sum(1 for _ in scheduler.iterate_jobs(scan_schedulers=True)) - 1
    width = max(2, len(str(total)))
    counter = 0
    stack = [iter(scheduler.topological_order())]
    while stack:
        for job in stack[-1]:
            counter += 1
            job._aj_id = f"{counter:0{width}d}"
            if is_scheduler(job):
                stack.append(iter(job.topological_order()))
                break
        else:
            stack.pop()
    return width


def _ids(jobs: Any) -> str:
    return "{" + ", ".join(sorted(job.repr_id() for job in jobs)) + "}"


def list_lines(scheduler: Any, details: bool = False, unicode: bool | None = None) -> list[str]:
    """The lines ``list()`` prints."""
    number_jobs(scheduler)
    lines: list[str] = []

    def walk(sched: Any, depth: int) -> None:
        indent = ">" * depth + " " if depth else ""
        for job in sched.topological_order():
            line = (
                f"{job.repr_id()} {job.repr_short(unicode)} {indent}{job.repr_main()}"
                f"{job.repr_result()}{job.repr_requires()}"
            )
            if is_scheduler(job):
                lines.append(f"{line} -> entries={_ids(job.entry_jobs())}")
                walk(job, depth + 1)
                lines.append(
                    f"{job.repr_id()} --end-- {'<' * (depth + 1)} {job.repr_main()}"
                    f" exits={_ids(job.exit_jobs())}"
                )
            else:
                lines.append(line)
            if details:
                text = job.details()
                if text:
                    lines.extend(str(text).splitlines())

    walk(scheduler, 0)
    return lines


def list_safe_lines(scheduler: Any, unicode: bool | None = None) -> list[str]:
    """The lines of ``list_safe()``: no topological order needed, so it works on cycles."""
    lines: list[str] = []

    def walk(sched: Any, prefix: str) -> None:
        for rank, job in enumerate(sched.jobs, 1):
            job._aj_id = f"{prefix}.{rank}"
        for job in sched.jobs:
            lines.append(
                f"{job.repr_short(unicode)} {job.repr_id()} {job.repr_main()}{job.repr_requires()}"
            )
            if is_scheduler(job):
                walk(job, job.repr_id().lstrip("."))
                lines.append(f"--end-- .{job.repr_id().lstrip('.')}")

    walk(scheduler, "")
    return lines


def debrief_lines(scheduler: Any, details: bool = False) -> list[str]:
    """Outcome, listing, statistics, then the stack of every job that raised."""
    lines = [f"----- {scheduler.why()}"]
    lines.extend(list_lines(scheduler, details))
    stats = Statistics.of(scheduler.iterate_jobs())
    failed = [
        job
        for job in scheduler.iterate_jobs()
        if job.raised_exception() is not None and job._aj_state != SKIPPED
    ]
    critical = [job for job in failed if job.is_critical()]
    lines.append(f"===== {stats.summary()}")
    lines.append(
        f"===== {len(failed)} job(s) with an exception, including {len(critical)} critical"
    )
    for job in failed:
        kind = "CRITICAL JOB" if job.is_critical() else "non-critical job"
        exc = job.raised_exception()
        lines.append(f"---------- BEG stack for {kind} {job.repr_id()} {job.repr_main()}")
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        lines.extend(stack.rstrip("\n").splitlines())
        lines.append(f"---------- END stack for {kind} {job.repr_id()} {job.repr_main()}")
    skipped = [job for job in scheduler.iterate_jobs() if job._aj_state == SKIPPED]
    if skipped:
        lines.append(f"===== {len(skipped)} job(s) skipped because a requirement failed")
    return lines


class RenderMixin:
    """Display methods of schedulers."""

    jobs: Any
    iterate_jobs: Any

    def statistics(self) -> Statistics:
        """Counts by state and durations of the direct member jobs."""
        return Statistics.of(self.jobs)

    def stats(self) -> str:
        """``"2D + 3R + 4I = 9"``: done, ongoing, idle (skipped count as idle), total."""
        return self.statistics().short()

    def list(self, details: bool = False) -> None:
        """Print one line per job, in topological order, with status badges and results;
        ``details=True`` adds each job's ``details()`` and a statistics line."""
        for line in list_lines(self, details):
            print(line)
        if details:
            print(f"===== {Statistics.of(self.iterate_jobs()).summary()}")

    def list_safe(self) -> None:
        """Like ``list()`` but without needing a topological order (works with cycles)."""
        for line in list_safe_lines(self):
            print(line)

    def debrief(self, details: bool = False) -> None:
        """Print why the run ended, the listing, statistics, and every exception's stack."""
        for line in debrief_lines(self, details):
            print(line)

    def __repr__(self) -> str:
        stats = self.statistics()
        ongoing = stats.running + stats.scheduled
        return (
            f"{type(self).__name__} with {stats.done} done + {ongoing} ongoing + "
            f"{stats.idle + stats.skipped} idle = {stats.total} job(s)"
        )
