"""JobSet: the insertion-ordered set of a scheduler's jobs (``scheduler.jobs``).

It is a real set - a :class:`collections.abc.MutableSet` - so that scripts written for the
public asynciojobs, where ``jobs`` is a set, keep working: ``scheduler.jobs == {a, b}``,
``jobs | other``, ``jobs <= other``, ``jobs.isdisjoint(other)``, ``add``/``discard``/
``remove``/``pop``... It also keeps the order in which jobs were added, so that listings and
runs are stable. The jobs are held as the keys of a dict (O(1) membership, ordered).

The set a scheduler owns keeps the scheduler informed: a job added through
``scheduler.jobs.add(job)`` belongs to the scheduler as with ``scheduler.add(job)``. Sets
made by operators (``jobs | other``...) or ``copy()`` are plain ordered sets of jobs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSet
from collections.abc import Set as AbstractSet
from typing import Any, cast

from .job import left_scheduler


class JobSet(MutableSet[Any]):
    """An insertion-ordered mutable set of jobs; ``pop()`` takes the last one added."""

    __slots__ = ("_aj_items", "_aj_owner")
    __hash__ = None  # type: ignore[assignment]  # mutable, like set

    def __init__(self, jobs: Iterable[Any] = (), owner: Any = None) -> None:
        self._aj_items: dict[Any, None] = dict.fromkeys(jobs)
        self._aj_owner = owner

    @classmethod
    def _from_iterable(cls, iterable: Iterable[Any]) -> JobSet:
        return cls(iterable)

    # ---- the abstract methods
    def __contains__(self, job: object) -> bool:
        return job in self._aj_items

    def __iter__(self) -> Iterator[Any]:
        return iter(self._aj_items)

    def __reversed__(self) -> Iterator[Any]:
        items: dict[Any, None] = self._aj_items
        return reversed(items.keys())

    def __len__(self) -> int:
        return len(self._aj_items)

    def add(self, job: Any) -> None:
        """Add ``job`` (no-op if present); in a scheduler's set, it joins the scheduler."""
        if self._aj_owner is not None:
            self._aj_owner.update((job,))
        else:
            self._aj_items[job] = None

    def discard(self, job: Any) -> None:
        """Remove ``job`` if present."""
        if job in self._aj_items:
            self.remove(job)

    # ---- faster or order-aware versions of the mixin methods
    def remove(self, job: Any) -> None:
        """Remove ``job``; KeyError if absent."""
        del self._aj_items[job]
        owner = self._aj_owner
        if owner is not None and getattr(job, "_aj_parent", None) is owner:
            job._aj_parent = None
            left_scheduler(job, owner)

    def pop(self) -> Any:
        """Remove and return the last job added; KeyError if empty."""
        if not self._aj_items:
            raise KeyError("pop from an empty JobSet")
        job = next(reversed(self._aj_items))
        self.remove(job)
        return job

    def clear(self) -> None:
        """Remove every job."""
        for job in list(self._aj_items):
            self.remove(job)

    # ---- the named methods of set, for scripts written against a plain set
    def copy(self) -> JobSet:
        """A new (scheduler-less) JobSet with the same jobs, in the same order."""
        return JobSet(self._aj_items)

    def update(self, *others: Iterable[Any]) -> None:
        """Add every job of ``others``."""
        for other in others:
            for job in other:
                self.add(job)

    def union(self, *others: Iterable[Any]) -> JobSet:
        result = self.copy()
        result.update(*others)
        return result

    def intersection(self, *others: Iterable[Any]) -> JobSet:
        keep: AbstractSet[Any] = self._aj_items.keys()
        for other in others:
            keep = keep & set(other)
        return JobSet(job for job in self._aj_items if job in keep)

    def difference(self, *others: Iterable[Any]) -> JobSet:
        drop: set[Any] = set().union(*others)
        return JobSet(job for job in self._aj_items if job not in drop)

    def symmetric_difference(self, other: Iterable[Any]) -> JobSet:
        # the set operators build their result with _from_iterable(): a JobSet
        return cast(JobSet, self ^ JobSet(other))

    def difference_update(self, *others: Iterable[Any]) -> None:
        for other in others:
            for job in list(other):
                self.discard(job)

    def intersection_update(self, *others: Iterable[Any]) -> None:
        keep = self.intersection(*others)
        for job in [job for job in self._aj_items if job not in keep]:
            self.remove(job)

    def issubset(self, other: Iterable[Any]) -> bool:
        return self <= (other if isinstance(other, (set, frozenset, JobSet)) else set(other))

    def issuperset(self, other: Iterable[Any]) -> bool:
        return all(job in self._aj_items for job in other)

    def __repr__(self) -> str:
        return "{" + ", ".join(repr(job) for job in self._aj_items) + "}"
