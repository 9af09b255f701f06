"""Terminal helpers of the live monitor: the streams that write above its live area, and
small text utilities (clipping to a width, durations)."""

from __future__ import annotations

import os
from typing import Any


def is_tty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):
        return False


def clip(text: str, width: int) -> str:
    """``text`` on one line of printable characters, cut to ``width`` with an ellipsis."""
    text = " ".join(text.split()) if ("\n" in text or "\r" in text or "\t" in text) else text
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def seconds(value: float) -> str:
    """A duration in 6 columns: `` 12.3s``, `` 4m05s``, ``2h07m``."""
    if value < 60:
        return f"{value:5.1f}s"
    minutes, secs = divmod(int(value), 60)
    return f"{minutes:2d}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


class Above:
    """Stands for ``sys.stdout`` / ``sys.stderr`` while the live area is shown: text written
    to it appears above the area (whole lines only; a partial line waits for its end)."""

    def __init__(self, monitor: Any, target: Any) -> None:  # monitor: a Monitor
        self._monitor = monitor
        self._target = target
        self.buffer = AboveBytes(self) if hasattr(target, "buffer") else None

    def write(self, text: str) -> int:
        self._monitor.write_above(self._target, text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class AboveBytes:
    """The ``buffer`` of an :class:`Above` (raw bytes, decoded for the terminal)."""

    def __init__(self, text: Above) -> None:
        self._text = text

    def write(self, data: bytes) -> int:
        self._text.write(bytes(data).decode("utf-8", "replace"))
        return len(data)

    def flush(self) -> None:
        self._text.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._text._target.buffer, name)


def same_terminal(one: Any, other: Any) -> bool:
    """Whether two streams write to the same terminal (then one write keeps them in order)."""
    try:
        first, second = os.fstat(one.fileno()), os.fstat(other.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (first.st_dev, first.st_ino, first.st_rdev) == (
        second.st_dev,
        second.st_ino,
        second.st_rdev,
    ) and is_tty(one)
