"""Method names and call forms of older asynciojobs releases, served without warnings.

``rain_check()`` (now ``check_cycles()``), ``scan_in_order()`` (now ``topological_order()``),
``save_as_dotfile()`` / ``store_as_dotfile()`` (now ``export_as_dotfile()``), and
``orchestrate()`` / ``co_orchestrate()`` taking ``timeout=``, ``jobs_window=`` and ``loop=`` as
run arguments. The old class names ``Engine`` and ``SchedulerJob`` are defined once, in the
package façade (``asynciojobs/__init__.py``). This module imports nothing of the package:
the scheduler imports it, never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from typing import Any

_UNSET: Any = object()


class LegacySchedulerMixin:
    """Old method names of schedulers."""

    # provided by the scheduler class this mixin is part of
    run: Callable[..., bool]
    co_run: Callable[..., Coroutine[Any, Any, bool]]
    check_cycles: Callable[[], bool]
    topological_order: Callable[[], Iterator[Any]]
    export_as_dotfile: Callable[..., str]

    def orchestrate(
        self,
        loop: Any = None,
        *,
        timeout: Any = _UNSET,
        jobs_window: Any = _UNSET,
        monitor: Any = False,
        **_ignored: Any,
    ) -> bool:
        """``run()`` under its old name; ``loop``, if given, is the event loop to run in."""
        kwds = _overrides(timeout, jobs_window, monitor)
        if loop is not None and not loop.is_running() and not loop.is_closed():
            done: bool = loop.run_until_complete(self.co_run(**kwds))
            return done
        return self.run(**kwds)

    async def co_orchestrate(
        self,
        loop: Any = None,
        *,
        timeout: Any = _UNSET,
        jobs_window: Any = _UNSET,
        monitor: Any = False,
        **_ignored: Any,
    ) -> bool:
        """``co_run()`` under its old name (``loop`` is ignored: the running loop is used)."""
        return await self.co_run(**_overrides(timeout, jobs_window, monitor))

    def rain_check(self) -> bool:
        """Old name of ``check_cycles()``."""
        return self.check_cycles()

    def scan_in_order(self) -> Iterator[Any]:
        """Old name of ``topological_order()``."""
        return self.topological_order()

    def save_as_dotfile(self, filename: Any, show_ids: Any = None) -> str:
        """Old name of ``export_as_dotfile()``."""
        return self.export_as_dotfile(filename)

    def store_as_dotfile(self, filename: Any, show_ids: Any = None) -> str:
        """Old name of ``export_as_dotfile()``."""
        return self.export_as_dotfile(filename)


def _overrides(timeout: Any, jobs_window: Any, monitor: Any = False) -> dict[str, Any]:
    kwds: dict[str, Any] = {"monitor": monitor} if monitor else {}
    if timeout is not _UNSET:
        kwds["timeout"] = timeout
    if jobs_window is not _UNSET:
        kwds["jobs_window"] = jobs_window
    return kwds


__all__ = ["LegacySchedulerMixin"]
