"""Beyond the public asynciojobs: per-job timeout, retries, skip policy, events, statistics."""

import asyncio
import itertools

import pytest
from ajobs_helpers import boom, forever_loop, run_timed, sleeper

from asynciojobs import EventQueue, Job, JobSkipped, Scheduler, Sequence
from asynciojobs.fakeclock import fake_clock_run


def test_per_job_timeout():
    slow = Job(sleeper, 10, label="slow", timeout=3)
    after = Job(sleeper, 1, "after", required=slow)
    ok, elapsed = run_timed(Scheduler(slow, after))
    assert ok and elapsed == 4
    exc = slow.raised_exception()
    assert isinstance(exc, TimeoutError) and "3" in str(exc)
    assert after.result() == "after"


def test_per_job_timeout_critical_aborts():
    slow = Job(sleeper, 10, timeout=3, critical=True)
    assert run_timed(Scheduler(slow, Job(sleeper, 20))) == (False, 3)


def test_retries_with_backoff_then_success():
    attempts = []

    async def flaky():
        attempts.append(asyncio.get_running_loop().time())
        if len(attempts) < 3:
            raise ConnectionError("not yet")
        return "finally"

    job = Job(flaky, retries=3, backoff=2)
    kinds = []
    s = Scheduler(job)
    s.subscribe(lambda e: kinds.append(e.kind))
    ok, elapsed = run_timed(s)
    assert ok and job.result() == "finally" and job.raised_exception() is None
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps == [2, 4] and elapsed == 6
    assert kinds == ["run-started", "started", "retry", "retry", "done", "finished"]


def test_retries_exhausted_keep_last_exception():
    job = Job(boom, 0, "always", retries=2, backoff=0.5)
    ok, elapsed = run_timed(Scheduler(job))
    assert ok and str(job.raised_exception()) == "always" and elapsed == 1.5
    assert job._aj_attempts == 3


def test_retries_refused_for_coroutine_jobs():
    with pytest.raises(ValueError, match="Job\\(async_function"):
        Job(sleeper(1), retries=2)


def test_skip_policy_marks_dependents_skipped_transitively(capsys):
    bad = Job(boom, 1, "bad", label="bad")
    child = Job(sleeper, 1, "child", label="child", required=bad)
    grandchild = Job(sleeper, 1, "grandchild", label="grandchild", required=child)
    free = Job(sleeper, 2, "free", label="free")
    s = Scheduler(bad, child, grandchild, free, on_failed_requirement="skip")
    kinds = []
    s.subscribe(lambda e: kinds.append((e.kind, e.job.display_label())))
    ok, elapsed = run_timed(s)
    assert ok and elapsed == 2
    assert child.is_skipped() and grandchild.is_skipped() and not child.is_done()
    assert isinstance(child.raised_exception(), JobSkipped)
    assert ("skipped", "child") in kinds and ("skipped", "grandchild") in kinds
    assert s.statistics().skipped == 2
    s.list()
    out = capsys.readouterr().out
    line = next(text for text in out.splitlines() if "`child`" in text)
    assert "⊘" in line and "skipped: requirement `bad` failed" in line


def test_default_policy_runs_dependents_of_failed_jobs():
    bad = Job(boom, 1)
    child = Job(sleeper, 1, "child", required=bad)
    assert run_timed(Scheduler(bad, child))[0] and child.result() == "child"


def test_per_job_policy_overrides_scheduler():
    bad = Job(boom, 1)
    runs = Job(sleeper, 1, "runs", required=bad, on_failed_requirement="run")
    skips = Job(sleeper, 1, "skips", required=bad)
    assert run_timed(Scheduler(bad, runs, skips, on_failed_requirement="skip"))[0]
    assert runs.result() == "runs" and skips.is_skipped()
    with pytest.raises(ValueError, match="'run' or 'skip'"):
        Job(sleeper, 1, on_failed_requirement="maybe")


def test_events_stream_order_and_nested_jobs():
    a = Job(sleeper, 1, label="a")
    b = Job(boom, 1, label="b", required=a)
    inner_job = Job(sleeper, 1, label="inner-job")
    inner = Scheduler(inner_job, label="inner", required=b)
    monitor = Job(forever_loop, label="monitor", forever=True)
    s = Scheduler(a, b, inner, monitor)
    seen = []
    unsubscribe = s.subscribe(lambda e: seen.append((e.kind, e.job.display_label(), e.time)))
    assert run_timed(s)[0]
    kinds = [(k, n) for k, n, _ in seen]
    assert kinds[0] == ("run-started", "Scheduler")
    assert kinds[-1] == ("finished", "Scheduler")
    assert kinds.index(("done", "a")) < kinds.index(("started", "b"))
    assert ("failed", "b") in kinds and ("cancelled", "monitor") in kinds
    assert (
        kinds.index(("started", "inner"))
        < kinds.index(("started", "inner-job"))
        < kinds.index(("done", "inner-job"))
        < kinds.index(("done", "inner"))
    )
    times = [t for _, _, t in seen]
    assert times == sorted(times) and times[-1] - times[0] == 3
    unsubscribe()
    seen.clear()
    run_timed(s)
    assert seen == []


def test_broken_subscriber_does_not_break_the_run(caplog):
    s = Scheduler(Job(sleeper, 1))
    s.subscribe(lambda e: 1 / 0)
    assert run_timed(s)[0]
    assert "event subscriber" in caplog.text


def test_event_queue_async_iteration():
    async def main():
        s = Scheduler(Sequence(Job(sleeper, 1, label="x"), Job(sleeper, 1, label="y")))
        queue = EventQueue()
        s.subscribe(queue)
        task = asyncio.ensure_future(s.co_run())
        got = [(e.kind, e.job.display_label()) async for e in queue]
        assert await task
        return got

    assert fake_clock_run(main()) == [
        ("run-started", "Scheduler"),
        ("started", "x"),
        ("done", "x"),
        ("started", "y"),
        ("done", "y"),
        ("finished", "Scheduler"),
    ]


def test_statistics_counts_and_durations():
    jobs = [Job(sleeper, 1), Job(sleeper, 3), Job(boom, 2, critical=False)]
    idle = Job(sleeper, 1, required=jobs[1])
    s = Scheduler(*jobs, idle, timeout=3.5)
    assert not run_timed(s)[0]
    st = s.statistics()
    assert (st.total, st.done, st.failed, st.running, st.idle) == (4, 3, 1, 1, 0)
    assert st.longest == 3 and st.busy_time == 6 and st.span == 3
    assert s.stats() == "3D + 1R + 0I = 4"
    assert "3 done (1 failed" in st.summary()


def test_rerun_gives_same_results_and_fresh_state():
    async def square(x):
        await asyncio.sleep(x)
        return x * x

    jobs = [Job(square, i) for i in range(1, 5)]
    jobs[3].requires(jobs[0])
    bad = Job(boom, 1)
    s = Scheduler(*jobs, bad)
    outcomes = []
    for _ in range(3):
        ok, elapsed = run_timed(s)
        outcomes.append(
            (ok, elapsed, [j.result() for j in jobs], str(bad.raised_exception()), s.stats())
        )
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert outcomes[0][:3] == (True, 5, [1, 4, 9, 16])


def test_long_chain_of_skipped_jobs_needs_no_recursion():
    jobs = [Job(boom, 1)] + [Job(sleeper, 1) for _ in range(5000)]
    for previous, job in itertools.pairwise(jobs):
        job.requires(previous)
    tail_policy_run = Job(sleeper, 1, "ran", required=jobs[-1], on_failed_requirement="run")
    s = Scheduler(*jobs, tail_policy_run, on_failed_requirement="skip")
    assert run_timed(s) == (True, 2)
    assert all(job.is_skipped() for job in jobs[1:]) and tail_policy_run.result() == "ran"
    assert s.statistics().skipped == 5000


class SlowShutdown(Job):
    """A job whose shutdown needs a few loop turns (closing a connection, say)."""

    def __init__(self, *args, **kwds):
        super().__init__(*args, **kwds)
        self.shutting = asyncio.Event()
        self.shut = False

    async def co_shutdown(self):
        self.shutting.set()
        for _ in range(5):
            await asyncio.sleep(0)
        self.shut = True


def test_a_second_cancel_during_the_teardown_does_not_cut_it_short():
    async def main():
        started = asyncio.Event()

        async def long():
            started.set()
            await asyncio.sleep(3600)

        job = SlowShutdown(long)
        task = asyncio.create_task(Scheduler(job).co_run())
        await started.wait()
        task.cancel()
        await job.shutting.wait()  # the teardown has begun
        task.cancel()  # a second Ctrl-C
        with pytest.raises(asyncio.CancelledError):
            await task
        return job.shut

    assert fake_clock_run(main()) is True
