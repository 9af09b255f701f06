"""Graph algorithms (pure, synchronous) and the scheduler's graph surgery."""

import pytest

from asynciojobs import CycleError, Job, PureScheduler, Scheduler, Sequence, graph


async def nothing():
    return None


def J(label, *required):
    return Job(nothing, label=label, required=list(required))


def chain(n):
    jobs = [J("j0")]
    for i in range(1, n):
        jobs.append(J(f"j{i}", jobs[-1]))
    return jobs


def labels(jobs):
    return sorted(j.label for j in jobs)


def test_topological_order_is_stable_and_valid():
    a = J("a")
    b = J("b", a)
    c = J("c")
    d = J("d", b, c)
    order = graph.topological_order([d, c, b, a])
    assert order.index(a) < order.index(b) < order.index(d) and order.index(c) < order.index(d)
    assert graph.topological_order([a, c, b, d]) == [a, c, b, d]


def test_long_chain_needs_no_recursion():
    jobs = chain(20000)
    jobs[0].requires(jobs[-1])
    cycle = graph.find_cycle(jobs)
    assert len(cycle) == 20000
    with pytest.raises(CycleError):
        graph.topological_order(jobs)


def test_find_cycle_returns_the_cycle_in_requirement_order():
    a, b, c, free = J("a"), J("b"), J("c"), J("free")
    b.requires(a)
    c.requires(b)
    a.requires(c)
    free.requires(a)
    cycle = graph.find_cycle([free, a, b, c])
    assert set(cycle) == {a, b, c}
    for first, second in zip(cycle, [*cycle[1:], *cycle[:1]], strict=True):
        assert first in second.required
    assert graph.find_cycle([J("x", J("outside"))]) is None


def test_entry_exit_and_closures():
    a = J("a")
    b = J("b", a)
    c = J("c", a)
    d = J("d", b, c)
    f = Job(nothing, label="f", forever=True)
    jobs = [a, b, c, d, f]
    assert labels(graph.entry_jobs(jobs)) == ["a", "f"]
    assert labels(graph.exit_jobs(jobs)) == ["d"]
    assert labels(graph.exit_jobs(jobs, discard_forever=False)) == ["d", "f"]
    assert labels(graph.predecessors(jobs, d)) == ["b", "c"]
    assert labels(graph.successors(jobs, a)) == ["b", "c"]
    assert labels(graph.predecessors_upstream(jobs, d)) == ["a", "b", "c"]
    assert labels(graph.successors_downstream(jobs, a)) == ["b", "c", "d"]


def test_scheduler_closures_and_bypass_on_chain():
    jobs = chain(5)
    s = Scheduler(*jobs)
    assert labels(s.predecessors_upstream(jobs[3])) == ["j0", "j1", "j2"]
    s.bypass_and_remove(jobs[2])
    assert jobs[2] not in s.jobs and jobs[3].required == {jobs[1]}
    assert labels(s.predecessors_upstream(jobs[4])) == ["j0", "j1", "j3"]
    assert labels(s.successors_downstream(jobs[0])) == ["j1", "j3", "j4"]
    with pytest.raises(ValueError, match="not a member"):
        s.bypass_and_remove(jobs[2])


def test_bypass_on_diamond_and_sequence():
    a = J("a")
    b = J("b", a)
    c = J("c", a)
    d = J("d", b, c)
    s = PureScheduler(a, b, c, d)
    s.bypass_and_remove(b)
    assert d.required == {a, c}
    seq = Sequence(J("s1"), J("s2"), J("s3"))
    s2 = Scheduler(seq)
    s2.bypass_and_remove(seq.jobs[1])
    assert seq.jobs[2].required == {seq.jobs[0]}


def test_keep_only_prunes_links():
    a = J("a")
    b = J("b", a)
    c = J("c", b)
    s = Scheduler(a, b, c)
    s.keep_only([b, c])
    assert labels(s.jobs) == ["b", "c"] and b.required == set() and c.required == {b}


@pytest.mark.parametrize(
    ("starts", "ends", "keep_starts", "keep_ends", "expected"),
    [
        ([1], [4], True, True, ["j1", "j2", "j3", "j4"]),
        ([1], [4], False, False, ["j2", "j3"]),
        ([2], None, True, True, ["j2", "j3", "j4", "j5"]),
        (None, [2], True, True, ["j0", "j1", "j2"]),
        (None, [2], True, False, ["j0", "j1"]),
        (None, None, True, True, ["j0", "j1", "j2", "j3", "j4", "j5"]),
    ],
)
def test_keep_only_between(starts, ends, keep_starts, keep_ends, expected):
    jobs = chain(6)
    s = Scheduler(*jobs)
    s.keep_only_between(
        starts=[jobs[i] for i in starts] if starts else None,
        ends=[jobs[i] for i in ends] if ends else None,
        keep_starts=keep_starts,
        keep_ends=keep_ends,
    )
    assert labels(s.jobs) == expected
    kept = set(s.jobs)
    assert all(r in kept for j in s.jobs for r in j.required)


def test_sanitize_nested_removes_exactly_the_foreign_links():
    outside = J("outside")
    inner_a = J("inner_a")
    inner_b = J("inner_b", inner_a, outside)
    inner = Scheduler(inner_a, inner_b, label="inner")
    top_a = J("top_a", inner_a)  # requires a job of the nested scheduler: foreign at top
    top = Scheduler(inner, top_a, J("top_b", inner))
    assert top.sanitize() is False
    assert inner_b.required == {inner_a} and top_a.required == set()
    assert top.sanitize() is True


def test_sequence_semantics():
    s = Scheduler()
    seq = Sequence(J("a"), Sequence(J("b"), J("c")), None, scheduler=s)
    assert [j.label for j in seq.jobs] == ["a", "b", "c"]
    assert seq.jobs[1].required == {seq.jobs[0]} and seq.jobs[2].required == {seq.jobs[1]}
    pre = J("pre")
    seq2 = Sequence(J("x"), J("y"), required=pre)
    assert seq2.jobs[0].required == {pre}
    after = J("after", seq2)  # a sequence as requirement means its last job
    assert after.required == {seq2.jobs[-1]}
    nested_req = J("nested", [seq2, [seq]])
    assert nested_req.required == {seq2.jobs[-1], seq.jobs[-1]}
    seq.append(J("d"))
    assert len(s) == 4 and seq.jobs[3].required == {seq.jobs[2]}
    assert Sequence().requires(pre).jobs == []


def test_set_like_api():
    a, b = J("a"), J("b")
    s = PureScheduler()
    assert s.add(a) is a
    assert s.update([b, None]) is s and len(s) == 2 and list(s) == [a, b] and a in s
    assert s.remove(a) is s and list(s) == [b]
    with pytest.raises(KeyError):
        s.remove(a)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (lambda a, b, c: [a, b, c], "abc"),
        (lambda a, b, c: (c, a, b), "abc"),
        (lambda a, b, c: {a, b, c}, "abc"),
        (lambda a, b, c: [a, b, a, c, b], "abc"),  # twice: counted once
        (lambda a, b, c: [a, b, c, c], "abc"),
        (lambda a, b, c: [c, a, c], "ac"),
        (lambda a, b, c: [a, c], "ac"),
        (lambda a, b, c: [[a], (b, c)], "abc"),
        (lambda a, b, c: [a, Sequence(b, c)], "ac"),  # a Sequence: its last job
    ],
)
def test_requirements_given_to_the_constructor_as_a_set(given, expected):
    a, b, c = J("a"), J("b"), J("c")
    c.requires(b)
    job = Job(nothing, label="job", required=given(a, b, c))
    s = Scheduler(a, b, c, job)
    assert job.repr_requires().count("??") == len(expected)  # each job once (not numbered)
    log = []
    for each in (a, b, c, job):
        each.corun = _logger(log, each.label)
    assert s.run()  # before anything reads job.required
    assert log[-1] == "job" and sorted(log) == ["a", "b", "c", "job"]
    assert s.run()  # a second run counts the requirements the same way
    assert log[-1] == "job" and len(log) == 8
    assert job.required == {each for each in (a, b, c) if each.label in expected}


def _logger(log, label):
    async def run():
        log.append(label)

    return run


def test_requirements_kept_compact_still_behave_as_a_set():
    a, b, c, d = (J(label) for label in "abcd")
    for form in ([a, b], [a, b, c], [a, b, c, d]):
        job = J("job", *form)
        assert "requires {" in job.repr_requires()
        job.requires(d)
        assert job.required == {*form, d}
        job.requires(a, remove=True)
        assert job.required == {*form, d} - {a}
        job.required.add(a)
        assert a in job.required
    self_req = Job(nothing)
    self_req.requires([self_req, a, b])  # requiring oneself is ignored
    assert self_req.required == {a, b}
    twice = Job(nothing, required=[a, a])
    assert twice.required == {a}
    other = Job(nothing, required=[b, c])
    other.requires([d])
    assert other.required == {b, c, d}
    kept = Job(nothing, required=[b, c])
    kept.required = [d]  # assigned: replaces
    assert kept.required == {d}
