"""apssh's ``apssh.nodes`` module name: ``from sshjobs.nodes import SshNode, LocalNode``."""

from .localnode import LocalNode
from .node import SshNode

__all__ = ["LocalNode", "SshNode"]
