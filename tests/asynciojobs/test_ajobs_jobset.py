"""``Scheduler.jobs`` is a set, used the way scripts written for the public asynciojobs use it."""

import unittest
from collections.abc import MutableSet

import pytest

from asynciojobs import Job, PureScheduler, Scheduler, Sequence
from asynciojobs.jobset import JobSet


async def nothing():
    return None


def J(label, *required):
    return Job(nothing, label=label, required=list(required))


class UpstreamStyle(unittest.TestCase):
    """Written like the public asynciojobs' own tests (unittest, assertEqual on sets)."""

    def test_keep_only_between_compares_to_a_set_literal(self):
        j1 = J("j1")
        j2 = J("j2", j1)
        j3 = J("j3", j2)
        j4 = J("j4", j3)
        j5 = J("j5", j4)
        j6 = J("j6", j4)
        j7 = J("j7", j5, j6)
        s = Scheduler(j1, j2, j3, j4, j5, j6, j7)
        self.assertEqual(s.jobs, {j1, j2, j3, j4, j5, j6, j7})
        s.keep_only_between(starts=[j4])
        self.assertEqual(s.jobs, {j4, j5, j6, j7})
        self.assertEqual({j4, j5, j6, j7}, s.jobs)
        self.assertEqual(s.jobs, frozenset({j4, j5, j6, j7}))
        self.assertNotEqual(s.jobs, {j4, j5, j6})
        self.assertEqual(len(s.jobs), 4)
        self.assertIn(j5, s.jobs)
        self.assertNotIn(j3, s.jobs)
        self.assertEqual(s.predecessors_upstream(j7), {j4, j5, j6})


def test_it_is_a_mutable_set_that_keeps_insertion_order():
    jobs = [J(f"j{i}") for i in range(6)]
    s = PureScheduler(*reversed(jobs))
    assert isinstance(s.jobs, MutableSet)
    assert list(s.jobs) == list(reversed(jobs))
    assert list(reversed(s.jobs)) == jobs
    assert s.jobs != [*jobs]  # a set is not equal to a list, even with the same items
    with pytest.raises(TypeError):
        hash(s.jobs)


def test_operators_with_plain_sets_on_either_side():
    a, b, c, d = (J(x) for x in "abcd")
    s = Scheduler(a, b, c)
    other = {c, d}
    assert s.jobs | other == {a, b, c, d} and other | s.jobs == {a, b, c, d}
    assert s.jobs & other == {c} and other & s.jobs == {c}
    assert s.jobs - other == {a, b} and other - s.jobs == {d}
    assert s.jobs ^ other == {a, b, d} and other ^ s.jobs == {a, b, d}
    assert list(s.jobs | other) == [a, b, c, d]  # ours on the left: our order first
    assert s.jobs <= {a, b, c, d} and s.jobs < {a, b, c, d} and not s.jobs < {a, b, c}
    assert s.jobs >= {a, b} and s.jobs > {a} and not s.jobs > {a, b, c}
    assert {a, b} <= s.jobs and not {a, d} <= s.jobs
    assert s.jobs.isdisjoint({d}) and not s.jobs.isdisjoint([d, a])
    assert s.jobs.issubset([a, b, c, d]) and s.jobs.issuperset([a, b])
    assert s.jobs.union([d]) == {a, b, c, d} and s.jobs.intersection([a, d]) == {a}
    assert s.jobs.difference([a], [b]) == {c} and s.jobs.symmetric_difference([c, d]) == {a, b, d}
    # what operators return is a new set, not the scheduler's: it changes nothing
    union = s.jobs | {d}
    union.discard(a)
    assert isinstance(union, JobSet) and s.jobs == {a, b, c} and d not in s


def test_mutations_through_the_set_keep_the_scheduler_in_step():
    a, b, c = J("a"), J("b"), J("c")
    s = Scheduler(a, critical=True)
    s.jobs.add(b)  # as s.add(b): b now takes its defaults from s
    assert b in s and len(s) == 2 and b.is_critical()
    s.jobs |= {c}
    assert list(s.jobs) == [a, b, c] and c.is_critical()
    s.jobs.discard(J("stranger"))  # absent: no error
    s.jobs.discard(a)
    assert s.jobs == {b, c} and not a.is_critical()  # a left s: no longer its default
    with pytest.raises(KeyError):
        s.jobs.remove(a)
    assert s.jobs.pop() is c and not c.is_critical()
    s.jobs -= {b}
    assert s.jobs == set() and len(s) == 0
    with pytest.raises(KeyError):
        s.jobs.pop()
    s.jobs.update([a, b], Sequence(c))
    assert list(s.jobs) == [a, b, c]
    s.jobs.clear()
    assert not s.jobs and not b.is_critical()
    s.jobs &= {a}
    assert not s.jobs


def test_a_scheduler_built_through_its_set_runs():
    a = J("a")
    b = J("b", a)
    s = Scheduler()
    s.jobs.update([a, b])
    assert s.run() and a.is_done() and b.is_done()
    assert s.jobs.copy() == {a, b} and s.jobs.copy() is not s.jobs
