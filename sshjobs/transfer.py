"""File transfers over the node's SFTP session: ``Push`` and ``Pull`` (apssh-compatible).

Beyond apssh, directories are copied recursively and file modes / times are preserved by
default (``recurse=True, preserve=True``; pass ``False`` to opt out). Other keyword arguments
go to asyncssh's ``put``/``get`` (``follow_symlinks``, ``block_size``, ``progress_handler``...).
A missing local file to push is reported before any connection is made.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from .commands import AbstractCommand
from .errors import LocalFileError, SshJobsError
from .results import CommandResult

__all__ = ["Pull", "Push"]


def _as_list(paths: str | os.PathLike[str] | Sequence[Any]) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    return [os.fspath(p) for p in paths]


class _Transfer(AbstractCommand):
    def __init__(
        self,
        sources: Any,
        destination: Any,
        *,
        label: str | None,
        verbose: bool,
        kwds: dict[str, Any],
    ) -> None:
        super().__init__(label=label, verbose=verbose)
        self.sources = _as_list(sources)
        self.destination = os.fspath(destination)
        kwds.setdefault("recurse", True)
        kwds.setdefault("preserve", True)
        self.kwds = kwds

    async def _transfer(self, node: Any) -> None:
        raise NotImplementedError

    async def co_execute(self, node: Any) -> CommandResult:
        self.check_local()
        result = CommandResult(
            host=getattr(node, "hostname", "?"),
            command=self.label_line(),
            label=self.get_label_line(),
        )
        try:
            await self._transfer(node)
        except SshJobsError as exc:
            result.error = exc
            result.end = time.time()
            raise
        result.exit_status = 0
        result.end = time.time()
        return self._finish(result)


class Push(_Transfer):
    """Copy local file(s) or directories to ``remotepath`` on the node."""

    def __init__(
        self,
        localpaths: str | os.PathLike[str] | Sequence[Any],
        remotepath: str,
        *args: Any,
        label: str | None = None,
        verbose: bool = False,
        **kwds: Any,
    ) -> None:
        super().__init__(localpaths, remotepath, label=label, verbose=verbose, kwds=kwds)
        self.localpaths = self.sources
        self.remotepath = self.destination

    def check_local(self) -> None:
        for path in self.sources:
            if not os.path.exists(path):
                raise LocalFileError(f"local file {path} not found (to push to {self.destination})")

    def label_line(self) -> str:
        return f"push {' '.join(self.sources)} -> {self.destination}"

    async def _transfer(self, node: Any) -> None:
        await node.put_file_s(self.sources, self.destination, **self.kwds)


class Pull(_Transfer):
    """Copy remote file(s) or directories into ``localpath``."""

    def __init__(
        self,
        remotepaths: str | Sequence[str],
        localpath: str | os.PathLike[str],
        *args: Any,
        label: str | None = None,
        verbose: bool = False,
        **kwds: Any,
    ) -> None:
        super().__init__(remotepaths, localpath, label=label, verbose=verbose, kwds=kwds)
        self.remotepaths = self.sources
        self.localpath = self.destination

    def check_local(self) -> None:
        parent = os.path.dirname(os.path.abspath(self.destination))
        if not os.path.isdir(parent):
            raise LocalFileError(
                f"local directory {parent} not found (to pull {' '.join(self.sources)} into)"
            )

    def label_line(self) -> str:
        return f"pull {' '.join(self.sources)} -> {self.destination}"

    async def _transfer(self, node: Any) -> None:
        await node.get_file_s(self.sources, self.destination, **self.kwds)
