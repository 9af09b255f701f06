"""sshjobs: run jobs over SSH on many hosts at once, built on asynciojobs and asyncssh.

The public names are those of apssh (scripts written for apssh work after replacing ``apssh``
by ``sshjobs`` in their imports), plus sshjobs' own: the error hierarchy, structured results,
``SubdirFormatter``/``ColonFormatter`` and friends.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what _LAZY imports on first use, for type checkers
    from asynciojobs import __version__

    from .capture import Capture, Deferred, Variables
    from .commands import AbstractCommand, Run, RunScript, RunString
    from .errors import (
        AuthenticationError,
        CommandFailedError,
        CommandTimeoutError,
        GatewayError,
        HostKeyError,
        KeyLoadError,
        LocalFileError,
        SshConnectionError,
        SshJobsError,
        TransferError,
    )
    from .formatters import (
        CaptureFormatter,
        ColonFormatter,
        Formatter,
        HostFormatter,
        RawFormatter,
        SubdirFormatter,
        TerminalFormatter,
        TimeColonFormatter,
        TimeHostFormatter,
        VerboseFormatter,
    )
    from .job import SshJob
    from .keys import import_private_key, load_agent_keys, load_private_keys
    from .localnode import LocalNode
    from .node import SshNode, SshProxy
    from .results import CommandResult
    from .scenario import YamlLoader
    from .service import Service
    from .sharedinput import InputReader, SharedInput
    from .topology import (
        close_ssh_in_scheduler,
        co_close_ssh_in_scheduler,
        topology_as_dotfile,
        topology_as_pngfile,
        topology_dot,
        topology_graph,
    )
    from .transfer import Pull, Push

#: every public name, and the module defining it: imported on first use, so that
#: ``import sshjobs`` costs nothing (the ``sshjobs`` command prepares its process before
#: asyncssh is imported, see :mod:`sshjobs.transport.loader`) and a script pays only for
#: what it uses
_LAZY = {
    **dict.fromkeys(("Capture", "Deferred", "Variables"), "capture"),
    **dict.fromkeys(("AbstractCommand", "Run", "RunScript", "RunString"), "commands"),
    **dict.fromkeys(
        (
            "AuthenticationError",
            "CommandFailedError",
            "CommandTimeoutError",
            "GatewayError",
            "HostKeyError",
            "KeyLoadError",
            "LocalFileError",
            "SshConnectionError",
            "SshJobsError",
            "TransferError",
        ),
        "errors",
    ),
    **dict.fromkeys(
        (
            "CaptureFormatter",
            "ColonFormatter",
            "Formatter",
            "HostFormatter",
            "RawFormatter",
            "SubdirFormatter",
            "TerminalFormatter",
            "TimeColonFormatter",
            "TimeHostFormatter",
            "VerboseFormatter",
        ),
        "formatters",
    ),
    "SshJob": "job",
    **dict.fromkeys(("import_private_key", "load_agent_keys", "load_private_keys"), "keys"),
    "LocalNode": "localnode",
    "SshNode": "node",
    "SshProxy": "node",
    "CommandResult": "results",
    "Pull": "transfer",
    "Push": "transfer",
    "InputReader": "sharedinput",
    "SharedInput": "sharedinput",
    "Service": "service",
    "YamlLoader": "scenario",
    **dict.fromkeys(
        (
            "close_ssh_in_scheduler",
            "co_close_ssh_in_scheduler",
            "topology_as_dotfile",
            "topology_as_pngfile",
            "topology_dot",
            "topology_graph",
        ),
        "topology",
    ),
}


def __getattr__(name: str) -> Any:
    if name == "__version__":  # the one version of the distribution: asynciojobs' (on demand)
        from asynciojobs import __version__ as version

        globals()["__version__"] = version
        return version
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sshjobs' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | {"__version__"})


__all__ = [
    "AbstractCommand",
    "AuthenticationError",
    "Capture",
    "CaptureFormatter",
    "ColonFormatter",
    "CommandFailedError",
    "CommandResult",
    "CommandTimeoutError",
    "Deferred",
    # apssh names not in its __all__, and older spellings
    "Formatter",
    "GatewayError",
    "HostFormatter",
    "HostKeyError",
    "InputReader",
    "KeyLoadError",
    "LocalFileError",
    "LocalNode",
    "Pull",
    "Push",
    "RawFormatter",
    "Run",
    "RunScript",
    "RunString",
    "Service",
    "SharedInput",
    "SshConnectionError",
    "SshJob",
    # ours
    "SshJobsError",
    "SshNode",
    "SshProxy",
    "SubdirFormatter",
    "TerminalFormatter",
    "TimeColonFormatter",
    "TimeHostFormatter",
    "TransferError",
    "Variables",
    "VerboseFormatter",
    "YamlLoader",
    "__version__",
    "close_ssh_in_scheduler",
    "co_close_ssh_in_scheduler",
    "import_private_key",
    "load_agent_keys",
    # apssh's export list
    "load_private_keys",
    "topology_as_dotfile",
    "topology_as_pngfile",
    "topology_dot",
    "topology_graph",
]
