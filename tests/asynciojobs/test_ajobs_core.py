"""Core behaviour of jobs and schedulers, on the virtual clock."""

import asyncio
import functools
import gc
import inspect

import pytest
from ajobs_helpers import boom, forever_loop, run_timed, sleeper

from asynciojobs import (
    AbstractJob,
    CycleError,
    ForeignRequirementError,
    Job,
    JobReuseError,
    NestedLoopError,
    PureScheduler,
    Scheduler,
    Sequence,
)
from asynciojobs.fakeclock import fake_clock_run


def test_empty_scheduler_runs_true_and_lists(capsys):
    s = Scheduler()
    assert run_timed(s) == (True, 0)
    s.list()
    assert capsys.readouterr().out == ""


def test_chain_order_and_results():
    log = []
    a = Job(sleeper, 1, "A", log, "a", label="a")
    b = Job(sleeper, 2, "B", log, "b", label="b", required=a)
    c = Job(sleeper, 3, "C", log, "c", label="c", required=b)
    ok, elapsed = run_timed(Scheduler(c, b, a))
    assert ok and elapsed == 6
    assert [(e, n) for e, n, _ in log] == [
        ("start", "a"),
        ("end", "a"),
        ("start", "b"),
        ("end", "b"),
        ("start", "c"),
        ("end", "c"),
    ]
    assert [a.result(), b.result(), c.result()] == ["A", "B", "C"]


def test_diamond_fan_in():
    log = []
    top = Job(sleeper, 1, None, log, "top")
    left = Job(sleeper, 2, None, log, "left", required=top)
    right = Job(sleeper, 5, None, log, "right", required=top)
    bottom = Job(sleeper, 1, None, log, "bottom", required=[left, right])
    ok, elapsed = run_timed(Scheduler(top, left, right, bottom))
    assert ok and elapsed == 7
    starts = {n: t for e, n, t in log if e == "start"}
    assert starts["bottom"] - starts["top"] == 6
    assert all(j.raised_exception() is None for j in (top, left, right, bottom))


def test_callable_job_reruns_with_same_results():
    calls = []

    async def count(n):
        calls.append(n)
        return n * 10

    jobs = [Job(count, i) for i in range(3)]
    s = Scheduler(Sequence(*jobs))
    assert run_timed(s)[0]
    first = [j.result() for j in jobs]
    assert run_timed(s)[0]
    assert [j.result() for j in jobs] == first == [0, 10, 20]
    assert calls == [0, 1, 2, 0, 1, 2]


def test_coroutine_job_second_run_is_refused_before_starting():
    ran = []

    async def mark(tag):
        ran.append(tag)

    once = Job(mark("once"), label="old-style")
    other = Job(mark, "callable")
    s = Scheduler(once, other)
    assert run_timed(s)[0]
    with pytest.raises(JobReuseError, match=r"old-style.*Job\(async_function"):
        run_timed(s)
    assert ran == ["once", "callable"]  # nothing started the second time
    with pytest.raises(JobReuseError):
        fake_clock_run(once.co_run())


def test_never_run_coroutine_jobs_do_not_warn():
    # filterwarnings=error turns a "never awaited" RuntimeWarning into a failure
    jobs = [Job(sleeper(1)) for _ in range(3)]
    jobs[1].requires(jobs[0])
    jobs[0].requires(jobs[1])
    with pytest.raises(CycleError):
        run_timed(Scheduler(*jobs))
    del jobs
    gc.collect()


def _created(coro):
    return inspect.getcoroutinestate(coro) == inspect.CORO_CREATED


def _closed(coro):
    return inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


def test_never_run_jobs_made_with_scheduler_are_closed_with_it():
    # Job(coro, scheduler=s): the scheduler closes the coroutines its jobs never awaited
    s = Scheduler()
    coros = [sleeper(i) for i in range(4)]
    jobs = [Job(coro, scheduler=s) for coro in coros]
    jobs[1].requires(jobs[0])
    jobs[0].requires(jobs[1])
    with pytest.raises(CycleError):
        run_timed(s)
    assert all(_created(coro) for coro in coros)
    del s, jobs
    gc.collect()
    assert all(_closed(coro) for coro in coros)


def test_job_removed_from_its_scheduler_outlives_it_and_still_runs():
    s = Scheduler()
    kept, dropped = sleeper(1, "kept"), sleeper(1, "dropped")
    a = Job(kept, scheduler=s)
    Job(dropped, scheduler=s)
    s.remove(a)
    del s
    gc.collect()
    assert _closed(dropped) and _created(kept)  # not closed with its former scheduler
    assert run_timed(Scheduler(a)) == (True, 1) and a.result() == "kept"
    b = Job(sleeper(2), scheduler=Scheduler())
    b_coro = b.corun
    b._aj_parent.jobs.discard(b)  # through the set: the same
    gc.collect()
    assert _created(b_coro)
    del b
    gc.collect()
    assert _closed(b_coro)  # closed when the job itself goes away


def test_job_moved_to_another_scheduler_outlives_the_first_one(caplog):
    first, second = Scheduler(), Scheduler()
    coro = sleeper(1, "moved")
    job = Job(coro, scheduler=first)
    second.add(job)  # logs that it belongs to one scheduler; it now takes second's defaults
    del first
    gc.collect()
    assert _created(coro)
    assert run_timed(second) == (True, 1) and job.result() == "moved"


def test_dropped_coroutine_jobs_are_closed_by_batches_never_a_live_one():
    # jobs made without scheduler= share, by batches, one weak reference that closes their
    # coroutines once every job of the batch is gone: never while one of them is alive
    from asynciojobs.job import _BATCH

    coros = [sleeper(1, i) for i in range(4 * _BATCH)]
    jobs = [Job(coro) for coro in coros]
    kept = jobs[2 * _BATCH]
    del jobs
    gc.collect()
    assert _created(kept.corun)
    # the first batch may hold jobs of earlier code, still alive; the kept job's batch waits
    assert sum(_closed(coro) for coro in coros) >= 2 * _BATCH
    assert run_timed(Scheduler(kept)) == (True, 1) and kept.result() == 2 * _BATCH


def test_a_scheduler_used_as_a_queue_does_not_keep_every_coroutine():
    # jobs added with scheduler=, run, then removed: the scheduler keeps only the coroutines
    # it may still have to close, not one per job it ever had
    s = Scheduler()
    waiting = Job(sleeper(1, "never run"), scheduler=s)
    s.remove(waiting)
    for i in range(300):
        job = Job(sleeper(0, i), scheduler=s)
        assert run_timed(s) == (True, 0) and job.result() == i
        s.remove(job)
    assert len(s._aj_entrusted.coros) < 100
    pending = Job(sleeper(1, "pending"), scheduler=s)
    coro = pending.corun
    for i in range(100):  # more removals: the list is compacted again, pending stays in it
        s.remove(Job(sleeper(0, i), scheduler=s))
    assert coro in s._aj_entrusted.coros
    del s, pending
    gc.collect()
    assert _closed(coro) and _created(waiting.corun)  # waiting is alive: not closed


def test_failed_job_construction_with_scheduler_closes_the_coroutine():
    s = Scheduler()
    coro = sleeper(1)
    with pytest.raises(ValueError, match="timeout"):
        Job(coro, timeout=-1, scheduler=s)
    gc.collect()
    assert _closed(coro) and not s.jobs


def test_forever_job_is_not_waited_for_and_is_cancelled():
    stop = Job(forever_loop, label="monitor", forever=True)
    work = Job(sleeper, 3)
    ok, elapsed = run_timed(Scheduler(stop, work))
    assert ok and elapsed == 3
    assert not stop.is_done() and stop.is_running() and stop.is_cancelled()


def test_only_forever_jobs_run_until_the_timeout():
    # as in the READMEs: nothing non-forever to wait for, so the timeout ends the run
    j = Job(forever_loop, forever=True)
    ok, elapsed = run_timed(Scheduler(j), timeout=2.5)
    assert not ok and elapsed == 2.5


def test_global_timeout_mid_graph():
    a, b, c = Job(sleeper, 1, "a"), Job(sleeper, 10, "b"), Job(sleeper, 1, "c")
    s = Scheduler(Sequence(a, b, c), timeout=5)
    ok, elapsed = run_timed(s)
    assert not ok and elapsed == 5
    assert a.result() == "a" and not b.is_done() and c.is_idle()
    assert s.failed_time_out() == 5 and s.why() == "TIMED OUT after 5s"


def test_non_critical_exception_keeps_going():
    a = Job(boom, 1, label="a")
    b = Job(sleeper, 1, "b", required=a)
    s = Scheduler(a, b)
    assert run_timed(s)[0]
    assert isinstance(a.raised_exception(), ValueError) and a.result() is None
    assert b.result() == "b"
    assert s.why() == "FINE"


def test_critical_exception_stops_and_returns_false():
    a = Job(boom, 1, label="a", critical=True)
    b = Job(sleeper, 1, "b", required=a)
    c = Job(sleeper, 10, "c")
    s = Scheduler(a, b, c)
    ok, elapsed = run_timed(s)
    assert not ok and elapsed == 1
    assert b.is_idle() and not c.is_done() and c.is_cancelled()
    assert s.failed_critical() and "CRITICAL" in s.why()


def test_critical_inherited_from_scheduler():
    a = Job(boom, 1)
    s = Scheduler(a, critical=True)
    assert a.is_critical()
    assert not run_timed(s)[0]
    b = Job(boom, 1, critical=False)
    assert run_timed(Scheduler(b, critical=True))[0]
    assert not Job(boom, 1).is_critical()  # scheduler default: not critical


def test_window_limits_concurrency():
    jobs = [Job(sleeper, 1) for _ in range(15)]
    assert run_timed(Scheduler(*jobs, jobs_window=3)) == (True, 5)
    assert run_timed(Scheduler(*jobs)) == (True, 1)
    assert run_timed(Scheduler(*jobs), jobs_window=5) == (True, 3)


def test_window_slot_comes_back_when_a_job_raises():
    # the public version leaked the slot: a window of 1 then hung until the timeout
    jobs = [Job(boom, 1) for _ in range(3)] + [Job(sleeper, 1, "ok")]
    ok, elapsed = run_timed(Scheduler(*jobs, jobs_window=1, timeout=100))
    assert ok and elapsed == 4
    assert jobs[-1].result() == "ok"


def test_forever_jobs_take_no_window_slot():
    monitor = Job(forever_loop, forever=True)
    work = Job(sleeper, 2, "w")
    assert run_timed(Scheduler(monitor, work, jobs_window=1, timeout=100)) == (True, 2)


def test_scheduled_jobs_wait_for_their_slot():
    async def check():
        jobs = [Job(sleeper, 1) for _ in range(3)]
        s = Scheduler(*jobs, jobs_window=1)
        task = asyncio.ensure_future(s.co_run())
        await asyncio.sleep(0.5)
        states = [(j.is_running(), j.is_scheduled()) for j in jobs]
        await task
        return states

    assert sorted(fake_clock_run(check())) == [(False, True), (False, True), (True, True)]


def test_run_inside_running_loop_says_to_await_co_run():
    async def inside():
        with pytest.raises(NestedLoopError, match=r"await scheduler\.co_run"):
            Scheduler(Job(sleeper, 1)).run()

    fake_clock_run(inside())


def test_requires_rejects_non_jobs_by_name():
    with pytest.raises(TypeError, match="'oops'"):
        Job(sleeper, 1).requires("oops")
    with pytest.raises(TypeError, match="42"):
        Job(sleeper, 1).requires([Job(sleeper, 1), [42]])
    with pytest.raises(TypeError, match="not a job"):
        Scheduler(Job(sleeper, 1), 3.5)


def test_requires_shapes():
    a, b, c, d = (Job(sleeper, 1) for _ in range(4))
    j = Job(sleeper, 1)
    j.requires(None).requires([None]).requires((a,)).requires({b}).requires([[[c]], (d, None)])
    assert j.required == {a, b, c, d}
    j.requires(j)
    assert j not in j.required
    j.requires(a, remove=True)
    assert j.required == {b, c, d}
    with pytest.raises(KeyError):
        j.requires(a, remove=True)


def test_cycle_error_names_the_jobs_before_anything_starts():
    ran = []

    async def mark(tag):
        ran.append(tag)

    a, b, c = (Job(mark, t, label=t) for t in "abc")
    free = Job(mark, "free", label="free")
    a.requires(c)
    b.requires(a)
    c.requires(b)
    s = Scheduler(a, b, c, free)
    assert not s.check_cycles()
    with pytest.raises(CycleError) as info:
        run_timed(s)
    assert set(info.value.jobs) == {a, b, c}
    for name in "abc":
        assert f"`{name}`" in str(info.value)
    assert ran == []
    a.requires(c, remove=True)
    assert s.check_cycles()
    assert run_timed(s)[0] and sorted(ran) == ["a", "b", "c", "free"]


def test_nested_cycle_restored_by_removing_a_requirement():
    a, b, c = (Job(sleeper, 1) for _ in range(3))
    a.requires(c)
    b.requires(a)
    c.requires(b)
    top = Scheduler(Job(sleeper, 1), Scheduler(Scheduler(a, b, c)))
    assert not top.check_cycles()
    b.requires(a, remove=True)
    assert top.check_cycles()
    assert run_timed(top) == (True, 3)


@pytest.mark.parametrize("verbose", [False, True])
def test_critical_and_non_critical_with_and_without_verbose(verbose, capsys):
    assert run_timed(Scheduler(Job(boom, 1), verbose=verbose))[0]
    assert not run_timed(Scheduler(Job(boom, 1, critical=True), verbose=verbose))[0]
    out = capsys.readouterr().out
    assert ("RAISED EXC." in out) == verbose
    assert ("a CRITICAL job has raised an exception" in out) == verbose


def test_nested_cycle_detected_before_outer_jobs_start():
    ran = []

    async def mark(tag):
        ran.append(tag)

    a, b = Job(mark, "a"), Job(mark, "b")
    a.requires(b)
    b.requires(a)
    outer = Scheduler(Job(mark, "outer"), Scheduler(a, b))
    assert not outer.check_cycles()
    with pytest.raises(CycleError):
        run_timed(outer)
    assert ran == []


def test_foreign_requirement_is_reported_or_sanitized():
    outside = Job(sleeper, 1, label="outside")
    inside = Job(sleeper, 1, label="inside", required=outside)
    s = Scheduler(inside)
    with pytest.raises(ForeignRequirementError, match="`inside` requires `outside`"):
        run_timed(s)
    assert not s.sanitize()
    assert s.sanitize()
    assert run_timed(s)[0]


def test_purescheduler_nested_the_old_way():
    sub = PureScheduler(Job(sleeper, 2, "x"))
    top = Scheduler(Job(sleeper, 1), Job(sub.co_run()))
    assert run_timed(top) == (True, 2)


def test_subclass_attributes_set_before_init_are_kept():
    class Custom(AbstractJob):
        def __init__(self):
            self.label = "preset"
            self.critical = True
            self.scheduler = "mine"
            super().__init__()

        async def co_run(self):
            return 1

    job = Custom()
    assert job.label == "preset" and job.critical is True and job.scheduler == "mine"
    assert run_timed(Scheduler(job))[0] and job.result() == 1


def test_job_rejects_non_callables_and_keywords_go_through_partial():
    with pytest.raises(TypeError, match="coroutine object or an async callable"):
        Job(42)

    async def kw(a, *, b):
        return a + b

    job = Job(functools.partial(kw, 1, b=2))
    assert run_timed(Scheduler(job))[0] and job.result() == 3


def test_result_before_done_raises():
    with pytest.raises(ValueError, match="not finished"):
        Job(sleeper, 1).result()


def test_legacy_positional_arguments_and_standalone_run():
    from asynciojobs import AbstractJob as Base

    class Old(Base):
        async def co_run(self):
            return "old"

    a = Old()
    job = Old(True, "lbl", True, a)  # forever, label, critical, required
    assert (job.forever, job.label, job.critical, job.required) == (True, "lbl", True, {a})
    assert a.standalone_run() == "old"

    async def inside():
        with pytest.raises(NestedLoopError, match=r"await job\.co_run"):
            a.standalone_run()

    fake_clock_run(inside())


def test_backlog_of_ready_jobs_keeps_order_and_bounds_unstarted_tasks(monkeypatch):
    from asynciojobs import execution

    monkeypatch.setattr(execution, "MAX_UNSTARTED", 3)
    started = []
    created = []
    real_create = execution.Run.create_task

    def spy(run, job):
        created.append(run.unstarted)
        real_create(run, job)

    monkeypatch.setattr(execution.Run, "create_task", spy)

    async def mark(i):
        started.append(i)
        await asyncio.sleep(1)

    jobs = [Job(mark, i) for i in range(20)]
    tail = Job(mark, 99, required=jobs)
    assert run_timed(Scheduler(*jobs, tail)) == (True, 2)
    assert started == [*range(20), 99]
    assert max(created) < 3


def test_backlog_left_alone_on_emergency_exit(monkeypatch):
    from asynciojobs import execution

    monkeypatch.setattr(execution, "MAX_UNSTARTED", 2)
    failing = Job(boom, 0, critical=True)
    others = [Job(sleeper, 1) for _ in range(10)]
    s = Scheduler(failing, *others)
    ok, elapsed = run_timed(s)
    assert not ok and elapsed == 0
    assert all(not job.is_done() for job in others)
    assert run_timed(Scheduler(*others)) == (True, 1)


def test_window_bounds_the_tasks_waiting_for_a_slot(monkeypatch):
    from asynciojobs import execution

    monkeypatch.setattr(execution, "MAX_UNSTARTED", 4)
    peak = []

    async def probe():
        peak.append(len(asyncio.all_tasks()))
        await asyncio.sleep(1)

    jobs = [Job(probe) for _ in range(30)]
    assert run_timed(Scheduler(*jobs, jobs_window=2)) == (True, 15)
    assert max(peak) <= 2 + 4 + 2  # running + waiting for a slot + main and group tasks


def test_concurrent_runs_of_one_scheduler_are_refused():
    async def twice():
        s = Scheduler(Job(sleeper, 1))
        first = asyncio.ensure_future(s.co_run())
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already running"):
            await s.co_run()
        return await first

    assert fake_clock_run(twice()) is True


def test_single_requirement_kept_without_a_set_behaves_like_a_set(capsys):
    empty_nested = Scheduler(label="empty")  # len() == 0: must still count as a requirement
    a = Job(sleeper, 1, label="a")
    b = Job(sleeper, 1, label="b").requires(a).requires(a).requires([a])
    c = Job(sleeper, 1, label="c").requires(empty_nested)
    assert run_timed(Scheduler(a, b, c, empty_nested)) == (True, 2)
    assert c.is_done() and empty_nested.is_done()
    Scheduler(a, b, c, empty_nested).list()
    out = capsys.readouterr().out
    assert "<Job `c`>[[ -> 1]] - requires {" in out
    assert b.required == {a}
    b.requires(c)
    assert b.required == {a, c}
    d = Job(sleeper, 1).requires(a)
    d.required.add(b)  # the public attribute is a real set
    assert d.required == {a, b}
    e = Job(sleeper, 1).requires(a)
    e.requires(a, remove=True)
    assert e.required == set()


def test_real_event_loop_run_sync():
    # everything else runs on the virtual clock: one check on a real loop and real time
    async def short(tag):
        await asyncio.sleep(0.01)
        return tag

    jobs = [Job(short, i) for i in range(6)]
    s = Scheduler(Sequence(*jobs[:3]), *jobs[3:], jobs_window=2, timeout=5)
    assert s.run() is True
    assert [j.result() for j in jobs] == list(range(6))
    assert all(0 < j.duration() < 1 for j in jobs)


def test_job_subclass_overriding_co_run_can_call_super():
    class Doubling(Job):
        async def co_run(self):
            return 2 * await super().co_run()

    job = Doubling(sleeper, 1, 21)
    assert run_timed(Scheduler(job))[0] and job.result() == 42


def test_a_job_in_two_schedulers_is_reported(caplog):
    job = Job(sleeper, 1, label="shared")
    first = Scheduler(job)
    Scheduler(first)  # nesting the scheduler is fine: no warning
    assert "already in another scheduler" not in caplog.text
    Scheduler(job)
    assert "job shared is already in another scheduler" in caplog.text


class _Fatal(BaseException):
    """Not an Exception: ends the run instead of failing one job."""


@pytest.mark.parametrize("ending", ["ok", "forever", "critical", "timeout", "cancelled", "fatal"])
def test_no_task_outlives_its_run(ending):
    async def fatal():
        await asyncio.sleep(1)
        raise _Fatal("stop")

    async def main():
        me = asyncio.current_task()
        waiting = [Job(sleeper, 5) for _ in range(3)]  # still running when the run ends
        first = Job(sleeper, 1)
        inner = Scheduler(Job(forever_loop, forever=True), Job(sleeper, 50))
        jobs = [first, *waiting, inner, Job(sleeper, 1, required=first)]
        if ending == "forever":
            jobs = [first, Job(forever_loop, forever=True)]
        elif ending == "critical":
            jobs.append(Job(boom, 2, critical=True))
        elif ending == "fatal":
            jobs.append(Job(fatal))
        elif ending == "ok":
            jobs = [first, *waiting]
        s = Scheduler(*jobs, timeout=3 if ending == "timeout" else None)
        run = asyncio.ensure_future(s.co_run())
        if ending == "cancelled":
            await asyncio.sleep(2)
            run.cancel()
        try:
            outcome = await run
        except asyncio.CancelledError:
            outcome = "cancelled"
        except _Fatal:
            outcome = "fatal"
        assert asyncio.all_tasks() == {me}  # every job's task is over
        return outcome, asyncio.get_running_loop().time()

    outcome, _ = fake_clock_run(main())
    expected = {
        "ok": True,
        "forever": True,
        "critical": False,
        "timeout": False,
        "cancelled": "cancelled",
        "fatal": "fatal",
    }
    assert outcome == expected[ending]


def test_times_on_asyncios_own_loop_come_from_the_loop_clock():
    # on asyncio's own loop the engine reads time.monotonic() directly: the same clock
    async def main():
        loop = asyncio.get_running_loop()
        before = loop.time()
        job = Job(asyncio.sleep, 0.01)
        scheduler = Scheduler(job)
        times = []
        scheduler.subscribe(lambda event: times.append(event.time))
        assert await scheduler.co_run()
        return before, job, times, loop.time()

    before, job, times, after = asyncio.run(main())
    assert len(times) >= 2 and before <= min(times) <= max(times) <= after
    assert 0.01 <= job.duration() <= after - before
