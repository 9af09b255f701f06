"""Import asyncssh without three of its costs that buy nothing: a library lookup at start-up
that cannot find anything, formatting log messages that nobody will see, and tokenising the same
ssh config lines again for every host.

On import, asyncssh looks for liboqs (post-quantum key exchanges) with
``ctypes.util.find_library``, twice; on Linux each call runs ``ldconfig -p``, then ``gcc`` and
``ld`` when ldconfig does not know the library: about 20 ms, a sixth of asyncssh's import, paid
by every ``sshjobs`` command. When neither the dynamic linker's cache nor ``LD_LIBRARY_PATH``
nor the usual library directories have a liboqs, the answer is known to be "not found"
without asking; otherwise the real lookup runs, so the result is the same either way.

asyncssh's logger adapter turns every argument of every log call into text before the logging
module decides whether the message is wanted; with logging at its default level that is about
8 % of the client's CPU on a fan-out (py-spy, 200 hosts). :func:`import_asyncssh` has it ask
first; what is logged, when it is, does not change.

asyncssh reads the ssh config once per connection (sshjobs gives it a per-host copy of a few
lines, see :mod:`sshjobs.transport.sshconfig`) and splits each line with :func:`shlex.split`, a
character-by-character tokeniser: about a quarter of the client's CPU per host on a fan-out with
a ``Host *`` section. The lines are the same for every host, so the config parser gets a
memoised ``shlex.split`` (same result: a fresh list each time; errors are not cached).
"""

from __future__ import annotations

import functools
import glob
import os
import shlex
import sys
from typing import Any

_LIBRARY_DIRS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib",
                 "/usr/local/lib64", "/usr/lib/*-linux-gnu", "/lib/*-linux-gnu")


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
    return any(glob.glob(os.path.join(pattern, "liboqs.so*"))
               for pattern in [*dirs, *_LIBRARY_DIRS])


def import_asyncssh() -> None:
    """Import asyncssh, skipping its liboqs lookup when :func:`may_have_liboqs` says there is
    nothing to find, and make its log calls cheap when their level is not logged."""
    if "asyncssh" not in sys.modules:
        if may_have_liboqs():
            import asyncssh  # noqa: F401
        else:
            _import_without_liboqs_lookup()
    _log_only_when_enabled()
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


def _log_only_when_enabled() -> None:
    try:
        from asyncssh.logging import SSHLogger
    except ImportError:
        return
    format_and_log = SSHLogger.log
    if getattr(format_and_log, "_sshjobs_checks_level", False):
        return

    def log(self: Any, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            format_and_log(self, level, msg, *args, **kwargs)

    log._sshjobs_checks_level = True  # type: ignore[attr-defined]
    log.__doc__ = format_and_log.__doc__
    SSHLogger.log = log  # type: ignore[method-assign]


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
        config.shlex = _MemoisedShlex()  # type: ignore[assignment]

