"""Seed README examples run unchanged, on a virtual clock: every event loop created during
a test by ``orchestrate()`` / ``run()`` is a FakeClockLoop (tests making their own loop use
``FakeClockLoop()``), so the examples' sleeps of 0.1-0.5 s take no real time and their order
of events is deterministic."""

import pytest

from asynciojobs.fakeclock import FakeClockLoop, fake_clock_loops


@pytest.fixture(autouse=True)
def virtual_time():
    with fake_clock_loops():
        yield


@pytest.fixture
def fake_loop():
    """A loop of the test's own (the READMEs' ``orchestrate(loop=...)``), closed afterwards."""
    loop = FakeClockLoop()
    yield loop
    loop.close()
