"""Seed README examples run unchanged, on a virtual clock: every event loop created during
a test (including the ones ``orchestrate()`` makes) is a FakeClockLoop, so the examples'
sleeps of 0.1-0.5 s take no real time and their order of events is deterministic."""

import pytest

from asynciojobs.fakeclock import fake_clock_policy


@pytest.fixture(autouse=True)
def virtual_time():
    with fake_clock_policy():
        yield


def badges_of(listing: str) -> dict:
    """label -> badge text (the 7 characters after the id) of each line of a listing."""
    out = {}
    for line in listing.splitlines():
        if "`" not in line:
            continue
        label = line.split("`")[1]
        out[label] = line[3:10]
    return out
