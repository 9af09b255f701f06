"""A virtual clock for asyncio: test time-dependent scenarios instantly and deterministically.

:class:`FakeClockLoop` is a selector event loop whose ``time()`` is virtual: whenever the
loop would wait for its next timer with nothing else to do, the clock jumps to that timer
instead of sleeping. ``asyncio.sleep(3600)`` then takes no real time, and since the
scheduler reads time from the loop only, its timeouts, windows and durations follow the
virtual clock. Meant for code that waits on timers and on other tasks: ready I/O is still
served, but the clock does not wait for I/O in flight (a subprocess, a socket) before jumping
to the next timer, so a timeout around real I/O would expire at once.

Use ``fake_clock_run(coro)`` for one coroutine, or ``with fake_clock_loops():`` to make the
loops that ``Scheduler.run()`` / ``orchestrate()`` / ``shutdown()`` create FakeClockLoops (see
:mod:`asynciojobs.loops`; asyncio's global event loop policy is left alone). Code that makes
its own loop uses ``FakeClockLoop()`` directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
from collections.abc import Coroutine, Iterator
from typing import Any

from .loops import use_loop_factory

__all__ = ["FakeClockLoop", "fake_clock_loops", "fake_clock_run"]


# DefaultSelector is a per-platform alias: some platforms need the ignore, others do not
class _FakeSelector(selectors.DefaultSelector):  # type: ignore[misc, valid-type, unused-ignore]
    """Never sleeps while timers are pending: advances the loop's virtual clock instead."""

    loop: FakeClockLoop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:  # no timer at all: only I/O (or another thread) can wake us
            return super().select(None)
        self.loop.advance(timeout)
        return []


class FakeClockLoop(asyncio.SelectorEventLoop):
    """An event loop with a virtual clock starting at ``start`` (seconds)."""

    def __init__(self, start: float = 1000.0) -> None:
        selector = _FakeSelector()
        super().__init__(selector)
        selector.loop = self
        self._fake_now = float(start)

    def time(self) -> float:
        return self._fake_now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (also usable from tests, between steps)."""
        if seconds > 0:
            self._fake_now += seconds


def fake_clock_run(coro: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run(coro)`` on a FakeClockLoop."""
    with asyncio.Runner(loop_factory=FakeClockLoop) as runner:
        return runner.run(coro)


@contextlib.contextmanager
def fake_clock_loops() -> Iterator[None]:
    """Within the block, the event loops asynciojobs' synchronous entry points create
    (``run()``, ``orchestrate()``, ``shutdown()``, ``standalone_run()``) are FakeClockLoops."""
    with use_loop_factory(FakeClockLoop):
        yield
