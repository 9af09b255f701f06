"""Process-wide speed-ups for the ``sshjobs`` command's own process, never for a library user.

``import sshjobs`` changes nothing in asyncssh or in any other module: sshjobs is imported by
other tools, whose own asyncssh use must not run on a modified asyncssh. The ``sshjobs``
command owns its process, so :func:`speed_up_this_process` (called by :mod:`sshjobs.cli`
before asyncssh is imported) applies two changes there, and there only:

- asyncssh looks for liboqs (post-quantum key exchanges) on import with
  ``ctypes.util.find_library``, twice; on Linux each call runs ``ldconfig -p``, then ``gcc``
  and ``ld`` when ldconfig does not know the library: about 20 ms of every command's start-up.
  When neither the dynamic linker's cache nor ``LD_LIBRARY_PATH`` nor the usual library
  directories have a liboqs, the answer is known to be "not found" without asking; otherwise
  the real lookup runs, so the result is the same either way. ``find_library`` is restored
  right after the import.
- asyncssh splits each ssh config line with :func:`shlex.split`, a character-by-character
  tokeniser; its config module gets a memoised ``split`` (same result: a fresh list each time;
  errors are not cached), which pays when a fan-out's hosts share config lines.

What the library does instead, inside its own objects, is described in
``docs/asyncssh-notes.md`` (per-connection log level checks, one config parse per host).
"""

from __future__ import annotations

import functools
import glob
import os
import shlex
import sys
from typing import Any

__all__ = ["may_have_liboqs", "speed_up_this_process"]

_LIBRARY_DIRS = (
    "/lib",
    "/lib64",
    "/usr/lib",
    "/usr/lib64",
    "/usr/local/lib",
    "/usr/local/lib64",
    "/usr/lib/*-linux-gnu",
    "/lib/*-linux-gnu",
)


def may_have_liboqs() -> bool:
    """False only when liboqs is surely absent (Linux, dynamic linker cache readable)."""
    if not sys.platform.startswith("linux"):
        return True
    try:
        with open("/etc/ld.so.cache", "rb") as cache:
            if b"liboqs" in cache.read():
                return True
    except OSError:
        return True
    dirs = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    return any(
        glob.glob(os.path.join(pattern, "liboqs.so*")) for pattern in [*dirs, *_LIBRARY_DIRS]
    )


def speed_up_this_process() -> None:
    """For the ``sshjobs`` command only: import asyncssh without its liboqs lookup when there
    is nothing to find, and memoise its config tokeniser (see the module doc)."""
    if "asyncssh" not in sys.modules:
        if may_have_liboqs():
            import asyncssh  # noqa: F401
        else:
            _import_without_liboqs_lookup()
    _memoise_config_tokeniser()


def _import_without_liboqs_lookup() -> None:
    import ctypes.util

    real = ctypes.util.find_library

    def find_library(name: str) -> str | None:
        return None if name in ("oqs", "liboqs") else real(name)

    ctypes.util.find_library = find_library
    try:
        import asyncssh  # noqa: F401
    finally:
        ctypes.util.find_library = real


class _MemoisedShlex:
    """What asyncssh's config module uses of :mod:`shlex`, with ``split`` memoised."""

    def __init__(self) -> None:
        self._split = functools.lru_cache(maxsize=4096)(lambda line: tuple(shlex.split(line)))

    def split(self, line: str) -> list[str]:
        return list(self._split(line))

    def __getattr__(self, name: str) -> Any:
        return getattr(shlex, name)


def _memoise_config_tokeniser() -> None:
    try:
        from asyncssh import config
    except ImportError:
        return
    if getattr(config, "shlex", None) is shlex:
        config.shlex = _MemoisedShlex()  # type: ignore[assignment, attr-defined]
