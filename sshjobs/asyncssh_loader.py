"""Import asyncssh without its slowest start-up step when that step cannot find anything.

On import, asyncssh looks for liboqs (post-quantum key exchanges) with
``ctypes.util.find_library``, twice; on Linux each call runs ``ldconfig -p``, then ``gcc`` and
``ld`` when ldconfig does not know the library: about 20 ms, a sixth of asyncssh's import, paid
by every ``sshjobs`` command. When neither the dynamic linker's cache nor ``LD_LIBRARY_PATH``
nor the usual library directories have a liboqs, the answer is known to be "not found"
without asking; otherwise the real lookup runs, so the result is the same either way.
"""

from __future__ import annotations

import glob
import os
import sys

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
    """Import asyncssh (once), skipping its liboqs lookup when :func:`may_have_liboqs` says
    there is nothing to find."""
    if "asyncssh" in sys.modules:
        return
    import ctypes.util
    real = ctypes.util.find_library
    if may_have_liboqs():
        import asyncssh
        return

    def find_library(name: str) -> str | None:
        return None if name in ("oqs", "liboqs") else real(name)

    ctypes.util.find_library = find_library
    try:
        import asyncssh  # noqa: F401
    finally:
        ctypes.util.find_library = real
