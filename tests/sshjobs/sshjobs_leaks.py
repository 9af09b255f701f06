"""Catch what a cancelled command may leave behind once the event loop is gone: unclosed
transports (ResourceWarning from ``__del__``, reported through ``sys.unraisablehook``),
"exception was never retrieved" futures and other asyncio logger errors.

Not a conftest.py on purpose (see sshjobs_helpers)."""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
import warnings
from collections.abc import Iterator


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


@contextlib.contextmanager
def leftovers() -> Iterator[list[str]]:
    """Within the block, warnings are errors and asyncio's complaints are recorded; on exit,
    ``gc.collect()`` runs (still under the error filter) and the returned list holds every
    unraisable exception (e.g. ``ResourceWarning: unclosed transport``) and asyncio log
    record seen meanwhile."""
    found: list[str] = []
    handler = _Records()
    asyncio_logger = logging.getLogger("asyncio")
    old_hook = sys.unraisablehook
    sys.unraisablehook = lambda info: found.append(
        f"{info.exc_type.__name__}: {info.exc_value} in {info.object!r}")
    asyncio_logger.addHandler(handler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            yield found
            gc.collect()
            gc.collect()
    finally:
        sys.unraisablehook = old_hook
        asyncio_logger.removeHandler(handler)
        found.extend(handler.messages)
