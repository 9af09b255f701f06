"""apssh's ``apssh.sshproxy`` module name: ``from sshjobs.sshproxy import SshProxy``."""

from .node import SshNode, SshProxy

__all__ = ["SshNode", "SshProxy"]
