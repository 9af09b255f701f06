"""Embedded SSH nodes on loopback, for the demo, the examples and users' own tests.

``Sandbox`` serves a gateway and N nodes with asyncssh (real SSH, real local commands, SFTP);
``sshjobs.sandbox.daemon`` runs one in the background for ``sshjobs sandbox up/status/down``.
"""

from .core import GATEWAY_NAME, MAX_NODES, Sandbox, check_node_count
from .errors import SandboxError
from .layout import Layout, SandboxNode
from .threaded import SandboxNodes, ThreadedSandbox

__all__ = [
    "GATEWAY_NAME",
    "MAX_NODES",
    "Layout",
    "Sandbox",
    "SandboxError",
    "SandboxNode",
    "SandboxNodes",
    "ThreadedSandbox",
    "check_node_count",
]
