"""The tests' polling helper (tests/fixtures/waiting.py): what it returns, and the failure it
gives when the awaited condition never comes."""

from __future__ import annotations

import asyncio
import itertools
import re

import pytest
from fixtures.waiting import empty, wait_until, wait_until_async


def test_returns_the_first_true_value_after_polling():
    counter = itertools.count()
    assert wait_until(lambda: next(counter) >= 3 and "ready", interval=0, message="x") == "ready"
    assert next(counter) == 4  # probed 4 times, no more


def test_until_empty_returns_what_is_left():
    left = [[1, 2], [2], []]
    assert wait_until(lambda: left.pop(0), until=empty, interval=0, message="x") == []
    assert left == []


def test_timeout_names_what_was_awaited_and_the_last_value():
    counter = itertools.count()
    with pytest.raises(AssertionError) as failure:
        wait_until(
            lambda: ["pid", next(counter)],
            until=empty,
            timeout=0.05,
            interval=0.01,
            message="the sleeps are reaped",
        )
    text = str(failure.value)
    probes = next(counter)
    assert probes >= 2  # probed again after the deadline
    assert re.fullmatch(
        rf"not within 0\.05 s \({probes} probes\): the sleeps are reaped; "
        rf"last value seen: \['pid', {probes - 1}\]",
        text,
    ), text


def test_a_long_last_value_is_cut():
    with pytest.raises(AssertionError, match=r"last value seen: 'x{1999}\.\.\.$"):
        wait_until(lambda: "x" * 5000, until=empty, timeout=0, message="nothing")


def test_async_form_lets_the_loop_run_and_takes_coroutine_probes():
    async def main():
        ready = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, ready.set)
        await wait_until_async(ready.is_set, interval=0.01, message="the event")

        async def probe():
            return "done"

        assert await wait_until_async(probe, message="a coroutine probe") == "done"
        with pytest.raises(
            AssertionError, match=r"^not within 0\.02 s .*: never; last value seen: False$"
        ):
            await wait_until_async(lambda: False, timeout=0.02, interval=0.01, message="never")

    asyncio.run(main())
