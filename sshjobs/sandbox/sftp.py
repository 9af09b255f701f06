"""SFTP for sandbox nodes: real paths, confined to the node's home directory.

Unlike asyncssh's virtual ``chroot`` (where ``/`` would mean the home directory), paths keep
their real meaning, so a file pushed to ``data/x`` or to ``<home>/data/x`` is the very file a
command run in that node then sees as ``data/x``. Relative paths start at the home directory;
anything resolving outside of it is refused with "permission denied".
Symbolic links are not resolved by the check: a link placed inside the home by a command can
point outside of it. This confines honest mistakes in a demo or a test, it is no security
boundary (commands run as the local user anyway).
"""

from __future__ import annotations

import os
import posixpath

import asyncssh


class HomeSFTPServer(asyncssh.SFTPServer):
    """An SFTP server whose client sees the node's home as its working directory."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], home: str):
        super().__init__(chan)
        self._home = os.fsencode(os.path.realpath(home))

    def _inside(self, path: bytes) -> bool:
        return path == self._home or path.startswith(self._home + b"/")

    def map_path(self, path: bytes) -> bytes:
        """Resolve ``path`` against the home directory; refuse what lies outside of it."""
        local = posixpath.normpath(posixpath.join(self._home, path))
        if not self._inside(local):
            raise asyncssh.SFTPPermissionDenied(
                f"{os.fsdecode(path)}: outside of this sandbox node's home"
            )
        return local

    def reverse_map_path(self, path: bytes) -> bytes:
        """Paths are reported as they are: the home directory is a real absolute path."""
        return path
