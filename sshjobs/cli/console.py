"""The terminal side of a run: line formats, colors, and a progress line that never garbles output.

Everything the command prints while hosts run goes through one :class:`Console`, so the
progress line (stderr, terminals only) can be wiped before a line is written and redrawn after.
Remote output stays bytes until here; it is decoded with replacement only for humans, and
written as exact bytes in raw mode.
"""

from __future__ import annotations

import datetime
import io
import os
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

import colorama

__all__ = ["FORMAT_FIELDS", "Console", "LineFormat", "use_color"]

#: fields a --format may use (besides strftime codes such as %H:%M:%S)
FORMAT_FIELDS = (
    "host",
    "name",
    "fqdn",
    "user",
    "port",
    "target",
    "line",
    "linenl",
    "nl",
    "stream",
    "time",
    "date",
    "datetime",
    "elapsed",
)

_PALETTE = (
    colorama.Fore.CYAN,
    colorama.Fore.GREEN,
    colorama.Fore.MAGENTA,
    colorama.Fore.BLUE,
    colorama.Fore.YELLOW,
    colorama.Fore.LIGHTCYAN_EX,
    colorama.Fore.LIGHTGREEN_EX,
    colorama.Fore.LIGHTMAGENTA_EX,
    colorama.Fore.LIGHTBLUE_EX,
)
_CLEAR_LINE = "\r\x1b[K"


def use_color(stream: IO[str]) -> bool:
    """Colors only on a terminal, and never when ``NO_COLOR`` is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@dataclass(frozen=True)
class LineInfo:
    """Who produced a line: the values of the host-related format fields."""

    host: str
    fqdn: str
    user: str
    port: str
    target: str
    name: str = ""


class LineFormat:
    """A line template: ``{host}: {line}`` by default; ``None`` means raw (the bytes as they are).

    The template is checked when built (``ValueError`` for an unknown field), so a typo is a
    usage error before any connection.
    """

    def __init__(self, template: str | None, *, start: float | None = None) -> None:
        self.template = template
        self.start = time.time() if start is None else start
        if template is not None:
            sample = self._fields(LineInfo("h", "h.d", "u", "22", "u@h", "h"), "line", "stdout")
            try:
                self._apply(template, sample)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(
                    f"invalid --format {template!r}: unknown or bad field {exc}; "
                    f"fields are {', '.join('{' + f + '}' for f in FORMAT_FIELDS)}"
                ) from None

    @property
    def raw(self) -> bool:
        """Whether lines are written as they came (no template)."""
        return self.template is None

    def _fields(self, info: LineInfo, line: str, stream: str) -> dict[str, str]:
        now = time.time()
        stamp = datetime.datetime.fromtimestamp(now)
        return {
            "host": info.host,
            "name": info.name or info.host,
            "fqdn": info.fqdn,
            "user": info.user,
            "port": info.port,
            "target": info.target,
            "line": line,
            "linenl": line + "\n",
            "nl": "\n",
            "stream": "err" if stream == "stderr" else "out",
            "time": stamp.strftime("%H:%M:%S"),
            "date": stamp.strftime("%Y-%m-%d"),
            "datetime": stamp.isoformat(timespec="milliseconds"),
            "elapsed": f"{now - self.start:.3f}",
        }

    @staticmethod
    def _apply(template: str, fields: dict[str, str]) -> str:
        if "%" in template:
            template = time.strftime(template)
        text = template.format_map(fields)
        return text if "{linenl}" in template or "{nl}" in template else text + "\n"

    def render(self, info: LineInfo, data: bytes, stream: str) -> str:
        """One display line (newline included) for a line of remote output."""
        line = data.decode("utf-8", "replace").rstrip("\n").rstrip("\r")
        assert self.template is not None
        return self._apply(self.template, self._fields(info, line, stream))


class Console:
    """Serialized writes to stdout/stderr plus an optional progress line on stderr."""

    def __init__(
        self,
        *,
        progress: bool | None = None,
        color: bool | None = None,
        out: IO[str] | None = None,
        err: IO[str] | None = None,
    ) -> None:
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        err_tty = bool(getattr(self.err, "isatty", None) and self.err.isatty())
        self.progress_enabled = err_tty if progress is None else progress
        self.color = use_color(self.out) if color is None else color
        self.err_color = use_color(self.err) if color is None else color
        self._progress_text = ""
        self._shown = False
        self.broken = False
        #: called once when stdout's reader goes away (the engine stops the run)
        self.on_stdout_closed: Callable[[], None] | None = None
        self._out_is_tty = bool(getattr(self.out, "isatty", None) and self.out.isatty())

    # colors
    def host_color(self, name: str, *, stderr: bool = False) -> str:
        """``name`` colored with a color stable for that host (plain when colors are off)."""
        if not (self.err_color if stderr else self.color):
            return name
        color = _PALETTE[zlib.crc32(name.encode()) % len(_PALETTE)]
        return f"{color}{name}{colorama.Style.RESET_ALL}"

    def error_color(self, text: str) -> str:
        """``text`` in red on a colored stderr."""
        if not self.err_color:
            return text
        return f"{colorama.Fore.RED}{text}{colorama.Style.RESET_ALL}"

    # writing
    def _hide(self, for_stdout: bool) -> None:
        if self._shown and (not for_stdout or self._out_is_tty):
            self.err.write(_CLEAR_LINE)
            self.err.flush()
            self._shown = False

    def _redraw(self) -> None:
        if self.progress_enabled and self._progress_text and not self._shown:
            self.err.write(_CLEAR_LINE + self._progress_text)
            self.err.flush()
            self._shown = True

    def write_out(self, text: str) -> None:
        """A display line to stdout (the progress line wiped first when they share a terminal)."""
        if self.broken:
            return
        self._hide(True)
        try:
            self.out.write(text)
            if self._out_is_tty:
                self.out.flush()
        except BrokenPipeError:
            self._stdout_closed()
        self._redraw()

    def write_out_bytes(self, data: bytes) -> None:
        """Exact bytes to stdout (raw mode); falls back to decoding when there is no buffer."""
        if self.broken:
            return
        self._hide(True)
        try:
            _write_bytes(self.out, data)
        except BrokenPipeError:
            self._stdout_closed()
        self._redraw()

    def _stdout_closed(self) -> None:
        """The reader of stdout went away (``| head``): write nothing more, stop the run."""
        self.broken = True
        try:  # what is still buffered would raise again at exit: send it nowhere
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.out.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            pass
        if self.on_stdout_closed is not None:
            self.on_stdout_closed()

    def write_err(self, text: str) -> None:
        """A display line to stderr, on a wiped progress line, which is redrawn after."""
        self._hide(False)
        self.out.flush()
        self.err.write(text)
        self.err.flush()
        self._redraw()

    def write_err_bytes(self, data: bytes) -> None:
        """Exact bytes to stderr (raw mode)."""
        self._hide(False)
        self.out.flush()
        _write_bytes(self.err, data)
        self._redraw()

    def progress(self, *, done: int, failed: int, running: int, total: int) -> None:
        """Update the progress line (shown only when enabled)."""
        if not self.progress_enabled:
            return
        self._progress_text = f"[sshjobs] {done}/{total} done, {failed} failed, {running} running"
        self._shown = False
        self.err.write(_CLEAR_LINE + self._progress_text)
        self.err.flush()
        self._shown = True

    def close(self) -> None:
        """Remove the progress line and flush everything."""
        self._hide(False)
        self._progress_text = ""
        try:
            self.out.flush()
        except BrokenPipeError:
            self._stdout_closed()
        self.err.flush()


def _write_bytes(stream: IO[str], data: bytes) -> None:
    """Exact bytes through the text stream's binary buffer (decoded when it has none)."""
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(data.decode("utf-8", "replace"))
        return
    stream.flush()
    buffer.write(data)
    buffer.flush()
