"""``--timeout`` for copies: the library bounds commands itself, not SFTP transfers."""

from __future__ import annotations

import asyncio
from typing import Any

from sshjobs.commands import AbstractCommand
from sshjobs.errors import CommandTimeoutError
from sshjobs.results import CommandResult

__all__ = ["TimedTransfer", "bounded"]


class TimedTransfer(AbstractCommand):
    """A Push or Pull bounded by ``--timeout`` once the host is connected: a transfer still
    going is cancelled and the host ends with :class:`~sshjobs.errors.CommandTimeoutError`
    (exit code 4)."""

    def __init__(self, transfer: AbstractCommand, seconds: float) -> None:
        super().__init__(label=transfer.get_label_line())
        self.transfer = transfer
        self.seconds = seconds

    def check_local(self) -> None:
        self.transfer.check_local()

    def label_line(self) -> str:
        return self.transfer.get_label_line()

    async def co_execute(self, node: Any) -> CommandResult:
        await node.connect_lazy()
        try:
            async with asyncio.timeout(self.seconds):
                return await self.transfer.co_execute(node)
        except TimeoutError as exc:
            raise CommandTimeoutError(
                f"{self.label_line()} timed out after {self.seconds:g}s", host=node.hostname
            ) from exc


def bounded(command: AbstractCommand, seconds: float | None) -> AbstractCommand:
    """``command`` itself, or wrapped in :class:`TimedTransfer` when a timeout is set."""
    return command if seconds is None else TimedTransfer(command, seconds)
