"""Package house-keeping: loops made without a global policy, imports one way, logs vs prints."""

import ast
import asyncio
import logging
from pathlib import Path

from ajobs_helpers import sleeper

import asynciojobs
from asynciojobs import Job, Scheduler
from asynciojobs.fakeclock import FakeClockLoop, fake_clock_loops
from asynciojobs.loops import use_loop_factory

PACKAGE = Path(asynciojobs.__file__).parent


def test_fake_clock_loops_without_touching_the_event_loop_policy():
    policy = asyncio.get_event_loop_policy()
    seen = []

    async def where():
        seen.append(type(asyncio.get_running_loop()))
        await asyncio.sleep(3600)  # an hour of virtual time
        return "slept"

    job = Job(where)
    with fake_clock_loops():
        s = Scheduler(job)
        assert s.run() and job.result() == "slept" and s.shutdown() is None
        assert job.standalone_run() == "slept"
    assert seen == [FakeClockLoop, FakeClockLoop]
    assert asyncio.get_event_loop_policy() is policy
    # outside the block: asyncio's own loop again
    assert Scheduler(Job(sleeper, 0)).run()


def test_use_loop_factory_nests_and_restores():
    made = []

    def factory():
        made.append(1)
        return FakeClockLoop()

    with use_loop_factory(factory):
        with use_loop_factory(None):
            assert Scheduler(Job(sleeper, 0)).run()
        assert made == []
        assert Scheduler(Job(sleeper, 5)).run()
    assert made == [1]


def _package_imports(module):
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    return {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level >= 1
    }


def test_compat_imports_nothing_of_the_package_and_engine_is_defined_once():
    assert _package_imports("compat") == set()
    assert "compat" in _package_imports("scheduler")
    assert not hasattr(asynciojobs.compat, "Engine")
    assert asynciojobs.Engine is asynciojobs.SchedulerJob is Scheduler
    # the run loop lives in a module named for what it does
    assert not (PACKAGE / "engine.py").exists() and (PACKAGE / "execution.py").exists()


def test_check_cycles_and_sanitize_print_only_when_verbose(capsys, caplog):
    a = Job(sleeper, 1, label="a")
    b = Job(sleeper, 1, label="b", required=a)
    a.requires(b)
    stranger = Job(sleeper, 1, label="stranger")
    c = Job(sleeper, 1, label="c", required=stranger)
    quiet = Scheduler(a, b)
    with caplog.at_level(logging.INFO, logger="asynciojobs.surgery"):
        assert quiet.check_cycles() is False
        assert Scheduler(c).sanitize() is False
    assert capsys.readouterr().out == ""
    messages = [r.getMessage() for r in caplog.records]
    assert any("cycle" in m for m in messages)
    assert any("`c`" in m or " c " in m for m in messages if "no longer requires" in m)
    caplog.clear()
    assert Scheduler(a, b, verbose=True).check_cycles() is False
    c.requires(stranger)
    assert Scheduler(c).sanitize(verbose=True) is False
    out = capsys.readouterr().out
    assert out.startswith("check_cycles: requirements form a cycle")
    assert "WARNING: c no longer requires stranger (not in the same scheduler)" in out
    assert not [r for r in caplog.records if r.name == "asynciojobs.surgery"]
