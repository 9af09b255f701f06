"""Helpers for the Service tests: which processes of a session are still alive."""

from __future__ import annotations

import pytest
from fixtures.leftovers import session_members


@pytest.fixture
def members():
    """``members(sid)`` → pids of the live processes of session ``sid``."""
    return session_members
