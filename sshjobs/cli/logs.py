"""Diagnostics of the command line: ``logging`` to stderr, warnings by default, all with ``-D``.

Remote output never goes through logging (it goes to the reporters); this is only for us.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

__all__ = ["logging_scope", "setup_logging"]

_OURS = ("sshjobs", "asynciojobs")


@contextlib.contextmanager
def logging_scope() -> Iterator[None]:
    """Restore our loggers' levels and handlers afterwards, so that running the command line
    in-process (tests, other tools) leaves the caller's logging as it was."""
    saved = {
        name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers))
        for name in _OURS
    }
    try:
        yield
    finally:
        for name, (level, handlers) in saved.items():
            logger = logging.getLogger(name)
            logger.setLevel(level)
            logger.handlers[:] = handlers


def setup_logging(debug: bool) -> None:
    """Diagnostics on stderr: our warnings by default, everything with ``-D``.

    The scheduler's own warnings (a deadline reached...) would repeat what the run reports per
    host, so ``asynciojobs`` only speaks with ``-D``.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            "sshjobs: %(levelname)s %(name)s: %(message)s" if debug else "sshjobs: %(message)s"
        )
    )
    handler._sshjobs_cli = True  # type: ignore[attr-defined]
    for name, level in (("sshjobs", logging.WARNING), ("asynciojobs", logging.CRITICAL + 1)):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            if getattr(old, "_sshjobs_cli", False):
                logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if debug else level)
