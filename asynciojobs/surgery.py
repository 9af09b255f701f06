"""Graph checks and surgery methods of schedulers, on top of the pure :mod:`graph` module.

Cycle checks, sanitizing foreign links, topological order, entry/exit jobs, closures,
``bypass_and_remove``, ``keep_only`` / ``keep_only_between`` and ``iterate_jobs``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any, Self

from . import graph
from .badges import job_label
from .errors import CycleError
from .graph import is_scheduler
from .job import AbstractJob, flatten_jobs

logger = logging.getLogger("asynciojobs.surgery")


class GraphMethods:
    """Graph methods of schedulers (``self.jobs`` is the ordered set of members)."""

    jobs: Any
    verbose: bool
    remove: Any

    def check_cycles(self) -> bool:
        """True when no cycle exists, here or in nested schedulers.

        The cycle found is printed when the scheduler is verbose (the documented output of
        the public asynciojobs), logged (logger ``asynciojobs.surgery``, INFO) otherwise.
        """
        for sched in self.iterate_jobs(scan_schedulers=True):
            if is_scheduler(sched):
                cycle = graph.find_cycle(sched.jobs)
                if cycle:
                    if self.verbose:
                        print(f"check_cycles: {CycleError(cycle)}")
                    else:
                        logger.info("check_cycles: %s", CycleError(cycle))
                    return False
        return True

    def sanitize(self, verbose: bool | None = None) -> bool:
        """Drop requirements pointing outside the scheduler (nested ones too).

        Returns True when nothing had to change. Each dropped link is printed as a WARNING
        line when ``verbose`` (default: the scheduler's; the documented output of the public
        asynciojobs), logged (logger ``asynciojobs.surgery``, INFO) otherwise.
        """
        verbose = self.verbose if verbose is None else verbose
        fine = True
        for sched in self.iterate_jobs(scan_schedulers=True):
            if is_scheduler(sched):
                for job, req in list(graph.foreign_requirements(sched.jobs)):
                    fine = False
                    job.required.discard(req)
                    if verbose:
                        print(
                            f"WARNING: {job_label(job)} no longer requires "
                            f"{job_label(req)} (not in the same scheduler)"
                        )
                    else:
                        logger.info(
                            "sanitize: %s no longer requires %s (not in the same scheduler)",
                            job_label(job),
                            job_label(req),
                        )
        return fine

    def topological_order(self) -> Iterator[AbstractJob]:
        """Member jobs, each after its requirements (CycleError on a cycle)."""
        yield from graph.topological_order(self.jobs)

    def entry_jobs(self) -> list[AbstractJob]:
        """Jobs with no requirement."""
        return graph.entry_jobs(self.jobs)

    def exit_jobs(
        self, *, discard_forever: bool = True, compute_backlinks: bool = True
    ) -> list[AbstractJob]:
        """Jobs that no other job requires."""
        return graph.exit_jobs(self.jobs, discard_forever=discard_forever)

    def predecessors(self, *jobs: AbstractJob) -> set[AbstractJob]:
        """Member jobs that ``jobs`` directly require."""
        return graph.predecessors(self.jobs, *jobs)

    def successors(self, *jobs: AbstractJob, compute_backlinks: bool = True) -> set[AbstractJob]:
        """Member jobs that directly require one of ``jobs``."""
        return graph.successors(self.jobs, *jobs)

    def predecessors_upstream(self, *jobs: AbstractJob) -> set[AbstractJob]:
        """Member jobs that ``jobs`` require, directly or not."""
        return graph.predecessors_upstream(self.jobs, *jobs)

    def successors_downstream(
        self, *jobs: AbstractJob, compute_backlinks: bool = True
    ) -> set[AbstractJob]:
        """Member jobs that require one of ``jobs``, directly or not."""
        return graph.successors_downstream(self.jobs, *jobs)

    def bypass_and_remove(self, job: AbstractJob) -> Self:
        """Remove a member, linking its successors to its requirements."""
        if job not in self.jobs:
            raise ValueError(f"{job_label(job)} is not a member of this scheduler")
        graph.bypass(self.jobs, job)
        self.remove(job)
        return self

    def keep_only(self, jobs: Iterable[AbstractJob]) -> Self:
        """Keep only these member jobs, then drop the now foreign links."""
        kept = set(flatten_jobs(jobs))
        for job in [j for j in self.jobs if j not in kept]:
            self.remove(job)
        self.sanitize(verbose=False)
        return self

    def keep_only_between(
        self,
        *,
        starts: Any = None,
        ends: Any = None,
        keep_starts: bool = True,
        keep_ends: bool = True,
    ) -> Self:
        """Keep jobs downstream of a start and upstream of an end (flags keep the bounds)."""
        kept = graph.between(
            self.jobs,
            starts=flatten_jobs([starts]),
            ends=flatten_jobs([ends]),
            keep_starts=keep_starts,
            keep_ends=keep_ends,
        )
        return self.keep_only(kept)

    def iterate_jobs(self, scan_schedulers: bool = False) -> Iterator[Any]:
        """Leaf jobs, recursively; with ``scan_schedulers`` the schedulers too (self first)."""
        if scan_schedulers:
            yield self
        stack = [iter(self.jobs)]
        while stack:
            for job in stack[-1]:
                if is_scheduler(job):
                    if scan_schedulers:
                        yield job
                    stack.append(iter(job.jobs))
                    break
                yield job
            else:
                stack.pop()
