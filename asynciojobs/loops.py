"""Which event loop the synchronous entry points create: ``run()``, ``orchestrate()``,
``shutdown()`` and ``standalone_run()`` each run in a fresh ``asyncio.Runner``.

By default it is asyncio's own loop. ``with use_loop_factory(factory):`` makes them create
``factory()`` instead - a :class:`~asynciojobs.fakeclock.FakeClockLoop` in tests, say -
without touching asyncio's global event loop policy (deprecated since Python 3.14). The
setting is a context variable: it holds for the code running inside the block (and the
threads or tasks it starts from there), not for other threads.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

LoopFactory = Callable[[], asyncio.AbstractEventLoop]
_factory: ContextVar[LoopFactory | None] = ContextVar("asynciojobs_loop_factory", default=None)


def new_runner() -> asyncio.Runner:
    """An ``asyncio.Runner`` making its loop with the current factory (None: asyncio's)."""
    return asyncio.Runner(loop_factory=_factory.get())


@contextlib.contextmanager
def use_loop_factory(factory: LoopFactory | None) -> Iterator[None]:
    """Within the block, the synchronous entry points create their loops with ``factory``."""
    token = _factory.set(factory)
    try:
        yield
    finally:
        _factory.reset(token)
