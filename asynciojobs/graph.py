"""Graph algorithms on jobs and their requirements - pure, synchronous, no asyncio.

A "graph" here is a collection of jobs; each job's ``required`` set gives its incoming
edges. Requirements pointing outside the collection are "foreign". Every function is
O(jobs + edges) and iterative (no recursion limit on long chains); orders are stable:
ties follow the collection's iteration order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from collections.abc import Set as AbstractSet
from typing import Any

from .errors import CycleError, ForeignRequirementError

_EMPTY: frozenset[Any] = frozenset()


def is_scheduler(job: Any) -> bool:
    """Whether ``job`` is a scheduler (it has member jobs) rather than a leaf job.

    Decided by a class marker, not by the presence of a ``jobs`` attribute: a user's leaf
    job may well have a ``jobs`` attribute of its own.
    """
    return bool(getattr(type(job), "_aj_is_scheduler", False))


def members_of(jobs: Collection[Any]) -> Collection[Any]:
    """``jobs`` itself when membership tests on it are O(1) (a set, a JobSet, a dict's
    keys), else a set of it."""
    return jobs if isinstance(jobs, (AbstractSet, dict)) else set(jobs)


def requirements(job: Any) -> Collection[Any]:
    """The jobs ``job`` requires, without materialising an empty set on jobs that have none."""
    try:
        reqs = job._aj_required
    except AttributeError:
        required: Collection[Any] = job.required
        return required
    if reqs is None:
        return _EMPTY
    return reqs if type(reqs) is set or type(reqs) is tuple else (reqs,)


def successors_map(jobs: Collection[Any]) -> dict[Any, list[Any]]:
    """job -> list of jobs (in ``jobs``) that require it; foreign links are ignored."""
    succ: dict[Any, list[Any]] = {job: [] for job in jobs}
    for job in jobs:
        for req in requirements(job):
            lst = succ.get(req)
            if lst is not None:
                lst.append(job)
    return succ


def foreign_requirements(jobs: Collection[Any]) -> Iterator[tuple[Any, Any]]:
    """(job, requirement) pairs whose requirement is not in ``jobs``."""
    members = members_of(jobs)
    for job in jobs:
        for req in requirements(job):
            if req not in members:
                yield job, req


def find_cycle(jobs: Collection[Any]) -> list[Any] | None:
    """One cycle (as a list of jobs, each requiring the next... in requirement order) or None."""
    members = members_of(jobs)
    state: dict[Any, int] = {}  # 1: on the current path, 2: explored
    for root in jobs:
        if root in state:
            continue
        path = [root]
        iters = [iter(requirements(root))]
        state[root] = 1
        while iters:
            for req in iters[-1]:
                if req not in members:
                    continue
                mark = state.get(req)
                if mark == 1:
                    cycle = path[path.index(req) :]
                    cycle.reverse()  # requirement first: a -> b means b requires a
                    return cycle
                if mark is None:
                    state[req] = 1
                    path.append(req)
                    iters.append(iter(requirements(req)))
                    break
            else:
                state[path.pop()] = 2
                iters.pop()
    return None


def topological_order(jobs: Collection[Any], *, foreign: str = "ignore") -> list[Any]:
    """Jobs ordered so that each comes after its requirements (Kahn's algorithm).

    Raises CycleError naming a cycle; with ``foreign="error"`` a requirement outside
    ``jobs`` raises ForeignRequirementError, with ``"ignore"`` it is not waited for.
    """
    members = members_of(jobs)
    pending: dict[Any, int] = {}
    succ: dict[Any, list[Any]] = {}
    order: list[Any] = []
    for job in jobs:
        count = 0
        for req in requirements(job):
            if req in members:
                count += 1
                lst = succ.get(req)
                if lst is None:
                    succ[req] = [job]
                else:
                    lst.append(job)
            elif foreign == "error":
                raise ForeignRequirementError(job, req)
        pending[job] = count
        if not count:
            order.append(job)
    index = 0
    while index < len(order):
        for nxt in succ.get(order[index], ()):
            left = pending[nxt] - 1
            pending[nxt] = left
            if not left:
                order.append(nxt)
        index += 1
    if len(order) < len(pending):
        raise CycleError(find_cycle(jobs) or [j for j in jobs if pending[j]])
    return order


def entry_jobs(jobs: Collection[Any]) -> list[Any]:
    """Jobs with no requirement inside ``jobs``."""
    members = members_of(jobs)
    return [job for job in jobs if not any(req in members for req in requirements(job))]


def exit_jobs(jobs: Collection[Any], *, discard_forever: bool = True) -> list[Any]:
    """Jobs nothing in ``jobs`` requires (forever jobs left out unless asked)."""
    required = {req for job in jobs for req in requirements(job)}
    return [job for job in jobs if job not in required and not (discard_forever and job.forever)]


def predecessors(jobs: Collection[Any], *targets: Any) -> set[Any]:
    """Direct requirements of ``targets`` that are in ``jobs``."""
    members = members_of(jobs)
    return {req for target in targets for req in requirements(target) if req in members}


def successors(jobs: Collection[Any], *targets: Any) -> set[Any]:
    """Jobs of ``jobs`` that directly require one of ``targets``."""
    wanted = set(targets)
    return {job for job in jobs if not wanted.isdisjoint(requirements(job))}


def predecessors_upstream(jobs: Collection[Any], *targets: Any) -> set[Any]:
    """Transitive requirements of ``targets`` within ``jobs`` (targets excluded)."""
    members = members_of(jobs)
    seen: set[Any] = set()
    stack = list(targets)
    while stack:
        for req in requirements(stack.pop()):
            if req in members and req not in seen:
                seen.add(req)
                stack.append(req)
    return seen


def successors_downstream(jobs: Collection[Any], *targets: Any) -> set[Any]:
    """Jobs of ``jobs`` that transitively require one of ``targets`` (targets excluded)."""
    succ = successors_map(jobs)
    seen: set[Any] = set()
    stack = list(targets)
    while stack:
        for nxt in succ.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def bypass(jobs: Iterable[Any], job: Any) -> None:
    """Reconnect each job requiring ``job`` to each of ``job``'s requirements, then unlink it."""
    for other in jobs:
        if other is not job and job in requirements(other):
            other.required.discard(job)
            other.required.update(req for req in requirements(job) if req is not other)


def between(
    jobs: Collection[Any],
    *,
    starts: Iterable[Any] | None = None,
    ends: Iterable[Any] | None = None,
    keep_starts: bool = True,
    keep_ends: bool = True,
) -> set[Any]:
    """Jobs downstream of any start AND upstream of any end (an empty side: no constraint)."""
    starts = list(starts or ())
    ends = list(ends or ())
    kept = set(jobs)
    if starts:
        down = successors_downstream(jobs, *starts)
        if keep_starts:
            down.update(starts)
        kept &= down
    if ends:
        up = predecessors_upstream(jobs, *ends)
        if keep_ends:
            up.update(ends)
        kept &= up
    if not keep_starts:
        kept.difference_update(starts)
    if not keep_ends:
        kept.difference_update(ends)
    return kept
