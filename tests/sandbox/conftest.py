"""Fixture of the sandbox tests: run a coroutine against a fresh sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from sshjobs.sandbox import Sandbox


@pytest.fixture
def with_sandbox(tmp_path: Path) -> Callable[..., Any]:
    """``with_sandbox(coro_fn, count=2)`` runs ``coro_fn(sandbox)`` on a fresh sandbox."""

    def run(body: Callable[[Sandbox], Awaitable[Any]], count: int = 2, **kwds: Any) -> Any:
        async def main() -> Any:
            async with Sandbox(tmp_path / "sandbox", count, **kwds) as sandbox:
                return await body(sandbox)

        return asyncio.run(main())

    return run
