"""Files on a node's host over SFTP: copies, directories, staged scripts (apssh's methods).

Every operation uses the node's one SFTP client (:meth:`~sshjobs.connection.Connection.sftp_lazy`,
opened on first use) and raises :class:`~sshjobs.errors.TransferError` naming the host.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import asyncssh

from .connection import Connection
from .errors import TransferError

__all__ = ["RemoteFiles"]

logger = logging.getLogger("sshjobs.remote")


def _names(paths: Any) -> str:
    """``a, b`` for a list of paths, the path itself for one (no Python list in messages)."""
    if isinstance(paths, (list, tuple)):
        return ", ".join(str(path) for path in paths)
    return str(paths)


class RemoteFiles:
    """File operations on ``connection``'s host."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    async def _sftp_call(self, what: str, method: str, *args: Any, **kwds: Any) -> Any:
        sftp = await self.connection.sftp_lazy()
        try:
            return await getattr(sftp, method)(*args, **kwds)
        except (OSError, asyncssh.SFTPError, asyncssh.Error) as exc:
            raise TransferError(
                f"{what} failed: {getattr(exc, 'reason', None) or exc}", host=self.connection.host
            ) from exc

    async def mkdir(self, remotedir: str, mode: int = 0o755) -> None:
        """Create a remote directory (and its parents) if missing."""
        sftp = await self.connection.sftp_lazy()
        attrs = asyncssh.SFTPAttrs(permissions=mode)
        try:
            await sftp.makedirs(remotedir, attrs=attrs, exist_ok=True)
        except (OSError, asyncssh.SFTPError) as exc:
            raise TransferError(
                f"cannot create remote directory {remotedir}: {exc}", host=self.connection.host
            ) from exc

    async def put_file_s(
        self, localpaths: str | Sequence[str], remotepath: str, **kwds: Any
    ) -> None:
        """SFTP-upload file(s) (asyncssh ``put`` options: ``recurse``, ``preserve``...)."""
        await self._sftp_call(
            f"push of {_names(localpaths)} to {remotepath}", "put", localpaths, remotepath, **kwds
        )

    async def get_file_s(
        self, remotepaths: str | Sequence[str], localpath: str, **kwds: Any
    ) -> None:
        """SFTP-download file(s) (asyncssh ``get`` options)."""
        await self._sftp_call(
            f"pull of {_names(remotepaths)} to {localpath}", "get", remotepaths, localpath, **kwds
        )

    async def put_string_script(
        self, body: str | bytes, remotefile: str, mode: int = 0o755
    ) -> None:
        """Write ``body`` into ``remotefile`` with ``mode``."""
        data = body.encode() if isinstance(body, str) else body
        sftp = await self.connection.sftp_lazy()
        try:
            async with sftp.open(
                remotefile, "wb", attrs=asyncssh.SFTPAttrs(permissions=mode)
            ) as handle:
                await handle.write(data)
            await sftp.chmod(remotefile, mode)
        except (OSError, asyncssh.SFTPError) as exc:
            raise TransferError(
                f"cannot write {remotefile}: {exc}", host=self.connection.host
            ) from exc

    async def stage_script(
        self, name: str, body: bytes, includes: Sequence[str] = ()
    ) -> tuple[str, str]:
        """Upload a script (mode 0700) and its includes into a new private directory.

        Returns ``(directory, script path)``, relative to the remote home directory.
        """
        sftp = await self.connection.sftp_lazy()
        directory = f".sshjobs-{secrets.token_hex(5)}"
        path = f"{directory}/{name}"
        try:
            await sftp.mkdir(directory, asyncssh.SFTPAttrs(permissions=0o700))
            async with sftp.open(path, "wb", attrs=asyncssh.SFTPAttrs(permissions=0o700)) as handle:
                await handle.write(body)
            if includes:
                await sftp.put(list(includes), directory, preserve=True, recurse=True)
        except (OSError, asyncssh.SFTPError) as exc:
            raise TransferError(
                f"cannot upload script {name}: {exc}", host=self.connection.host
            ) from exc
        return directory, path

    async def unstage_script(self, directory: str) -> None:
        """Remove a directory made by :meth:`stage_script` (failures are only logged)."""
        try:
            sftp = await self.connection.sftp_lazy()
            await sftp.rmtree(directory)
        except (OSError, asyncssh.Error, asyncssh.SFTPError) as exc:
            logger.warning("%s: cannot remove %s: %s", self.connection.host, directory, exc)

    async def remote_home(self) -> str:
        """The remote user's home directory (SFTP's idea of ``.``)."""
        sftp = await self.connection.sftp_lazy()
        return str(PurePosixPath(await sftp.realpath(".")))
