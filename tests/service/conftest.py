"""Helpers for the Service tests: which processes of a session are still alive."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fixtures.leftovers import session_members


@pytest.fixture
def members():
    """``members(sid)`` → pids of the live processes of session ``sid``."""
    return session_members


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until true (a remote process tree forks asynchronously: there is no
    event to wait on from here)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def settled():
    """``settled(predicate)`` → True once the predicate holds (within 10 s)."""
    return wait_for
