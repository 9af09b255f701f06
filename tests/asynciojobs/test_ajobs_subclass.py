"""A user's job class owns its attributes: names it picks for itself never change how the
scheduler runs or shows it. Only the public asynciojobs attributes (``forever``, ``critical``,
``label``, ``required``) keep their public meaning, as in the public asynciojobs."""

import asyncio

import pytest
from ajobs_helpers import boom, run_timed, sleeper

from asynciojobs import AbstractJob, Job, JobSkipped, PureScheduler, Scheduler
from asynciojobs.settings import RunSettings


class SleepJob(AbstractJob):
    """The example of issue 13: ``timeout`` is how long this job sleeps."""

    def __init__(self, timeout):
        AbstractJob.__init__(self, forever=False)
        self.timeout = timeout

    async def co_run(self):
        await asyncio.sleep(self.timeout)
        return self.timeout


class Busy(AbstractJob):
    """Sets every name the engine used to read, or still offers as a method of ours."""

    def __init__(self, fail=False, **kwds):
        self.fail = fail
        super().__init__(**kwds)
        self.timeout = 0.001  # our per-job timeout keyword
        self.retries = 5  # our retries keyword
        self.backoff = "exponential"  # our backoff keyword
        self.on_failed_requirement = "skip"  # our policy keyword
        self.duration = 3.0  # our duration() method
        self.display_label = "mine"  # our display_label() method
        self.is_skipped = "no"  # our is_skipped() method
        self.is_cancelled = "no"  # our is_cancelled() method
        self.failed_requirement_policy = 1  # our failed_requirement_policy() method
        self.run_settings = "fast"  # our run_settings() accessor
        self.jobs = {"a": 1}  # what once told a scheduler from a job
        self.attempts = []

    async def co_run(self):
        self.attempts.append(asyncio.get_running_loop().time())
        await asyncio.sleep(self.duration)
        if self.fail:
            raise ValueError("busy failed")
        return "busy"


def test_issue_example_a_subclass_timeout_is_its_sleep_duration():
    job = SleepJob(5)
    ok, elapsed = run_timed(Scheduler(job, timeout=60))
    assert ok and elapsed == 5
    assert job.raised_exception() is None and job.result() == 5


def test_subclass_names_do_not_change_the_run():
    fails = Busy(fail=True, label="fails")
    after = Busy(label="after", required=fails)
    s = Scheduler(fails, after)
    ok, elapsed = run_timed(s)
    assert ok
    # one attempt each (no retries), no per-job timeout at 0.001 s, and `after` ran: the
    # policy on a failed requirement is the default "run", not the subclass's "skip"
    assert len(fails.attempts) == 1 and len(after.attempts) == 1 and elapsed == 6
    assert str(fails.raised_exception()) == "busy failed"
    assert after.result() == "busy" and not isinstance(after.raised_exception(), JobSkipped)
    # and the subclass's values are untouched
    assert (after.timeout, after.retries, after.backoff) == (0.001, 5, "exponential")
    assert after.run_settings == "fast" and after.jobs == {"a": 1}


def test_subclass_names_do_not_break_the_displays(capsys):
    fails = Busy(fail=True, label="fails")
    after = Busy(label="after", required=fails)
    s = Scheduler(fails, after)
    run_timed(s)
    s.list(details=True)
    s.debrief()
    s.list_safe()
    out = capsys.readouterr().out
    assert "<Busy `fails`>" in out and "<Busy `after`>" in out
    assert "2 job(s): 2 done (1 failed, 0 critical)" in out
    assert "busy failed" in out
    stats = s.statistics()
    assert stats.done == 2 and stats.durations == {fails: 3.0, after: 3.0}
    assert repr(s) == "Scheduler with 2 done + 0 ongoing + 0 idle = 2 job(s)"
    dot = s.dot_format()
    assert "subgraph" not in dot  # a `jobs` dict does not make a job a scheduler
    assert "fails" in dot and "rounded" in dot


def test_public_keywords_and_accessors_still_set_our_settings():
    job = Job(sleeper, 10, timeout=3, retries=1, backoff=0.5, on_failed_requirement="skip")
    assert job.run_settings() == RunSettings(3, 1, 0.5, "skip")
    assert job.run_settings().timeout == 3
    assert not hasattr(job, "timeout") and not hasattr(job, "retries")
    ok, elapsed = run_timed(Scheduler(job))
    assert ok and isinstance(job.raised_exception(), TimeoutError)
    assert elapsed == 3 + 0.5 + 3  # two attempts of 3 s, 0.5 s apart
    assert job.set_run_settings(timeout=None, retries=0) is job
    assert job.run_settings() == RunSettings(None, 0, 0.5, "skip")
    ok, elapsed = run_timed(Scheduler(job))
    assert ok and job.result() == 10 and elapsed == 10


@pytest.mark.parametrize(
    "bad",
    [
        {"timeout": -1},
        {"timeout": 0},
        {"retries": -1},
        {"retries": 1.5},
        {"backoff": -2},
        {"on_failed_requirement": "maybe"},
    ],
)
def test_bad_settings_raise_one_clear_error(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        Job(sleeper, 1, **bad)
    with pytest.raises(ValueError, match=name):
        Job(sleeper, 1).set_run_settings(**bad)


def test_scheduler_policy_through_keyword_and_accessor():
    bad = Job(boom, 1, "bad")
    child = Job(sleeper, 1, required=bad)
    s = PureScheduler(bad, child, on_failed_requirement="skip")
    assert s.run_settings().on_failed_requirement == "skip"
    assert s.run() and child.is_skipped()
    s.set_run_settings(on_failed_requirement="run")
    assert s.run() and child.is_done() and child.result() == 1


class Preset(AbstractJob):
    """Sets public attributes and its own before calling the base __init__ (DESIGN §3)."""

    def __init__(self, scheduler, requirement):
        self.scheduler = scheduler
        self.text = "preset text"
        self.graph = "my graph"
        self.label = "preset"
        self.critical = True
        self.forever = False
        self.required = [requirement]
        super().__init__(scheduler=scheduler)

    async def co_run(self):
        raise RuntimeError(self.text)


def test_attributes_set_before_base_init_are_kept():
    first = Job(sleeper, 1, "first")
    s = Scheduler(first)
    job = Preset(s, first)
    assert (job.scheduler, job.text, job.graph) == (s, "preset text", "my graph")
    assert job.label == "preset" and job.critical is True and job.required == {first}
    assert job in s
    ok, elapsed = run_timed(s)
    # public meaning: critical, so its failure aborts the run, after its requirement
    assert not ok and elapsed == 1 and s.failed_critical()
    assert str(job.raised_exception()) == "preset text"


def test_public_attributes_read_and_written_as_upstream():
    a, b = Job(sleeper, 1, "a"), Job(sleeper, 2, "b")
    c = Job(boom, 0, "c", required=a)
    c.required.add(b)
    c.required.discard(a)
    assert c.required == {b}
    c.critical = True
    a.label = "first"
    b.forever = False
    s = Scheduler(a, b, c)
    assert c.is_critical() and a.repr_main() == "<Job `first`>"
    ok, _ = run_timed(s)
    assert not ok and s.failed_critical() and b.is_done() and b.result() == "b"
    with pytest.raises(ValueError, match="not finished"):
        Job(sleeper, 1).result()
