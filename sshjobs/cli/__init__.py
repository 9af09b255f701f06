"""The ``sshjobs`` command line (click). Only this package talks to the terminal.

``Apssh``, ``Appush`` and ``Appull`` (apssh's command lines, driven in-process with
``Apssh().main(*argv)``) are imported on first use: ``sshjobs run`` does not load them.
"""

from typing import Any

from sshjobs.cli.exit import ExitCode
from sshjobs.cli.main import cli, main

__all__ = ["Appull", "Appush", "Apssh", "ExitCode", "cli", "main"]

#: names imported on first use, and the module defining each
_LAZY = {
    "Apssh": "sshjobs.cli.apssh",
    "Appush": "sshjobs.cli.appcopy",
    "Appull": "sshjobs.cli.appcopy",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sshjobs.cli' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
