"""Sequence: jobs chained one after the other, without writing the requirements by hand."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .job import AbstractJob, flatten_jobs


class Sequence:
    """Jobs (or nested Sequences) where each requires the previous one.

    ``required`` goes to the first job; with ``scheduler`` every job is added to it (and
    later ``append()``-ed jobs too). A Sequence is accepted wherever jobs are (scheduler
    constructor, ``add``/``update``, ``requires``, ``required=``); as a requirement it means
    its last job.
    """

    _aj_is_sequence = True

    def __init__(
        self, *sequences_or_jobs: Any, required: Any = None, scheduler: Any = None
    ) -> None:
        self.jobs: list[AbstractJob] = []
        self.scheduler = scheduler
        self.append(*sequences_or_jobs)
        if required is not None:
            self.requires(required)

    def append(self, *sequences_or_jobs: Any) -> Sequence:
        """Add jobs at the end of the chain (and to the remembered scheduler)."""
        new = flatten_jobs(sequences_or_jobs, what="sequence item")
        previous = self.jobs[-1] if self.jobs else None
        for job in new:
            if previous is not None:
                job.requires(previous)
            previous = job
        self.jobs.extend(new)
        if self.scheduler is not None:
            self.scheduler.update(new)
        return self

    def requires(self, *requirements: Any, remove: bool = False) -> Sequence:
        """Requirements of the first job (no-op on an empty sequence)."""
        if self.jobs:
            self.jobs[0].requires(*requirements, remove=remove)
        return self

    def __iter__(self) -> Iterator[AbstractJob]:
        return iter(self.jobs)

    def __len__(self) -> int:
        return len(self.jobs)

    def __repr__(self) -> str:
        return f"<Sequence of {len(self.jobs)} job(s)>"
