"""A bound on the SSH handshakes in progress at once, per event loop.

A fan-out to a thousand hosts would otherwise start a thousand key exchanges together: each one
then waits its turn for the client's CPU (and, on a testbed, for the gateway's), so each takes
longer than its connect timeout allows although every host is fine. Beyond the bound,
connections wait for a turn, and a node's connect timeout counts from the start of its own
handshake, not from the time it queued. Below the bound (256 by default, more than a fan-out
needs to keep two cores busy) nothing changes.

``SSHJOBS_MAX_HANDSHAKES`` sets the bound, read when an event loop first opens a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import weakref
from collections.abc import AsyncIterator

__all__ = ["DEFAULT_LIMIT", "HandshakeSlots", "slots"]

logger = logging.getLogger(__name__)

#: handshakes in progress at once when ``SSHJOBS_MAX_HANDSHAKES`` is not set
DEFAULT_LIMIT = 256


def _configured_limit() -> int:
    text = os.environ.get("SSHJOBS_MAX_HANDSHAKES", "").strip()
    if not text:
        return DEFAULT_LIMIT
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if limit < 1:
        logger.warning(
            "SSHJOBS_MAX_HANDSHAKES=%r is not a positive integer: using %d", text, DEFAULT_LIMIT
        )
        return DEFAULT_LIMIT
    return limit


class HandshakeSlots:
    """At most ``limit`` handshakes at once; ``in_progress`` and ``peak`` say how many ran."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_progress = 0
        self.peak = 0
        self.waited = 0  # handshakes that had to wait for a turn
        self._semaphore = asyncio.Semaphore(limit)

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        if self._semaphore.locked():
            self.waited += 1
        async with self._semaphore:
            self.in_progress += 1
            self.peak = max(self.peak, self.in_progress)
            try:
                yield
            finally:
                self.in_progress -= 1


_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, HandshakeSlots] = (
    weakref.WeakKeyDictionary()
)


def slots() -> HandshakeSlots:
    """The running event loop's handshake slots (created on first use)."""
    loop = asyncio.get_running_loop()
    found = _per_loop.get(loop)
    if found is None:
        found = _per_loop[loop] = HandshakeSlots(_configured_limit())
    return found
