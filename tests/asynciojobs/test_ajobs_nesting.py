"""Nested schedulers: scoped window/timeout/forever jobs, critical propagation, shutdown."""

import asyncio
import gc

import pytest
from ajobs_helpers import boom, forever_loop, run_timed, sleeper

from asynciojobs import AbstractJob, Job, Scheduler, SchedulerTimeoutError, Sequence
from asynciojobs.fakeclock import fake_clock_run


def test_nested_timings_add_up():
    inner = Scheduler(Sequence(Job(sleeper, 1), Job(sleeper, 2)), label="inner")
    outer = Scheduler(Sequence(Job(sleeper, 1), inner, Job(sleeper, 3)))
    assert run_timed(outer) == (True, 7)
    assert inner.is_done() and inner.result() is True


def test_nested_window_and_forever_are_scoped():
    monitor = Job(forever_loop, forever=True)
    inner = Scheduler(monitor, *[Job(sleeper, 1) for _ in range(4)], jobs_window=2)
    after = Job(sleeper, 1, required=inner)
    assert run_timed(Scheduler(inner, after)) == (True, 3)
    assert monitor.is_cancelled() and after.is_done()


@pytest.mark.parametrize(
    ("job_critical", "sched_critical", "expect"),
    [
        (False, False, "true"),
        (False, True, "true"),
        (True, False, "false"),
        (True, True, "raise"),
    ],
)
def test_critical_propagation_matrix(job_critical, sched_critical, expect):
    failing = Job(boom, 1, "inner boom", critical=job_critical)
    inner = Scheduler(failing, critical=sched_critical, label="inner")
    other = Job(sleeper, 5, "other")
    outer = Scheduler(inner, other)
    ok, _ = run_timed(outer)
    if expect == "true":
        assert inner.result() is True and ok
    elif expect == "false":
        # non-critical inner scheduler: result False, the outer run goes on
        assert inner.result() is False and inner.raised_exception() is None and ok
        assert other.result() == "other"
    else:
        assert inner.raised_exception() is failing.raised_exception()
        assert not ok and outer.failed_critical() and not other.is_done()


def test_critical_nested_propagates_through_two_levels_and_top_returns_false():
    failing = Job(boom, 1, "deep")
    level2 = Scheduler(failing, critical=True)
    level1 = Scheduler(level2, critical=True)
    top = Scheduler(level1, Job(sleeper, 9))
    assert run_timed(top) == (False, 1)
    assert str(level1.raised_exception()) == "deep"


def test_critical_inner_timeout_raises_scheduler_timeout_into_parent():
    inner = Scheduler(Job(sleeper, 10), timeout=2, critical=True, label="slow")
    outer = Scheduler(inner, Job(sleeper, 1))
    assert run_timed(outer) == (False, 2)
    assert isinstance(inner.raised_exception(), SchedulerTimeoutError)
    assert isinstance(inner.raised_exception(), TimeoutError)
    assert "slow" in str(inner.raised_exception())


def test_non_critical_inner_timeout_returns_false():
    inner = Scheduler(Job(sleeper, 10), timeout=2)
    assert run_timed(Scheduler(inner, Job(sleeper, 3))) == (True, 3)
    assert inner.result() is False and inner.why() == "TIMED OUT after 2s"


def test_iterate_jobs_counts():
    leaves = [Job(sleeper, 1) for _ in range(10)]
    s3 = Scheduler(*leaves[6:])
    s2 = Scheduler(*leaves[3:6], s3)
    top = Scheduler(*leaves[:3], s2, Scheduler())
    assert len(list(top.iterate_jobs())) == 10
    scanned = list(top.iterate_jobs(scan_schedulers=True))
    assert len(scanned) == 14 and scanned[0] is top


class Recorder(AbstractJob):
    """Records its shutdown; optionally slow or failing."""

    def __init__(self, log, name, delay=0, fail=False, **kwds):
        self.log, self.name, self.delay, self.fail = log, name, delay, fail
        super().__init__(label=name, **kwds)

    async def co_run(self):
        await asyncio.sleep(1)
        return self.name

    async def co_shutdown(self):
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError(f"shutdown of {self.name} failed")
        self.log.append((self.name, self.is_done()))


def test_shutdown_is_implicit_and_reaches_every_job_even_not_run():
    log = []
    a = Recorder(log, "a")
    b = Recorder(log, "b", required=a)
    c = Recorder(log, "c", required=b)
    s = Scheduler(a, b, c, timeout=1.5)
    assert not run_timed(s)[0]
    assert sorted(log) == [("a", True), ("b", False), ("c", False)]
    assert s.co_shutdown is not None


def test_nested_jobs_shut_down_when_their_scheduler_finishes():
    log = []
    inner = Scheduler(Recorder(log, "inner"))
    late = Recorder(log, "late", required=inner)
    outer = Scheduler(inner, late)

    def snapshot(event):
        if event.kind == "started" and event.job is late:
            log.append(("late started", None))

    outer.subscribe(snapshot)
    assert run_timed(outer)[0]
    assert log.index(("inner", True)) < log.index(("late started", None))
    assert log[-1] == ("late", True) and len(log) == 3


def test_shutdown_timeout_cancels_stragglers_and_errors_are_retrieved(caplog):
    log = []
    quick = Recorder(log, "quick", delay=0.1)
    slow = Recorder(log, "slow", delay=5)
    broken = Recorder(log, "broken", fail=True)
    s = Scheduler(quick, slow, broken, shutdown_timeout=1)
    ok, elapsed = run_timed(s)
    assert ok and elapsed == 2  # 1s of run + 1s of shutdown timeout
    assert log == [("quick", True)]
    assert [(job.name, str(exc)) for job, exc in s.shutdown_errors] == [
        ("broken", "shutdown of broken failed")
    ]
    del s, broken
    gc.collect()
    assert "never retrieved" not in caplog.text
    assert "co_shutdown of broken raised RuntimeError" in caplog.text


@pytest.mark.parametrize(("shutdown_timeout", "expected"), [(0.05, 0), (0.3, 1), (10, 2)])
def test_shutdown_timeout_levels(shutdown_timeout, expected):
    log = []
    jobs = [Recorder(log, "short", delay=0.1), Recorder(log, "long", delay=0.5)]
    assert run_timed(Scheduler(*jobs, shutdown_timeout=shutdown_timeout))[0]
    assert len(log) == expected


def test_job_coshutdown_forms():
    seen = []

    async def close(tag):
        seen.append(tag)

    once = Job(sleeper, 1, coshutdown=close("coroutine"))
    again = Job(sleeper, 1, coshutdown=lambda: close("callable"))
    s = Scheduler(once, again)
    assert run_timed(s)[0] and run_timed(s)[0]
    assert sorted(seen) == ["callable", "callable", "coroutine"]


def test_cancelling_a_run_still_shuts_down_and_propagates():
    log = []

    async def main():
        s = Scheduler(
            Recorder(log, "a"),
            Job(forever_loop, forever=True),
            Scheduler(Recorder(log, "nested"), Job(sleeper, 100)),
        )
        task = asyncio.ensure_future(s.co_run())
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return s

    s = fake_clock_run(main())
    assert sorted(log) == [("a", False), ("nested", False)]
    assert all(not job.is_done() for job in s.iterate_jobs())
