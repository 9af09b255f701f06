"""A sandbox served by a background process: ``sshjobs sandbox up / status / down``.

``start_background`` launches ``python -m sshjobs.sandbox.daemon``, which detaches (double
fork, own session), starts the :class:`Sandbox`, records its pid and nodes in
``DIR/state.json`` and only then reports "ready" on a pipe the caller is waiting on; a failure
to start (port in use, ...) comes back on the same pipe as one line, and the process exits.
``stop_background`` stops exactly the recorded process, after checking it is our daemon for
that directory (a recycled pid is never signalled), and waits until it is gone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .core import Sandbox, check_base_port, check_node_count
from .errors import SandboxError
from .layout import Layout, SandboxNode

logger = logging.getLogger("sshjobs.sandbox.daemon")

MODULE = "sshjobs.sandbox.daemon"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def default_directory() -> Path:
    """``$SSHJOBS_SANDBOX_DIR``, else ``$XDG_STATE_HOME/sshjobs/sandbox`` (~/.local/state)."""
    if os.environ.get("SSHJOBS_SANDBOX_DIR"):
        return Path(os.environ["SSHJOBS_SANDBOX_DIR"]).absolute()
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(state) / "sshjobs" / "sandbox"


def _command(verb: str, layout: Layout) -> str:
    """``sshjobs sandbox VERB``, with the ``--dir`` that names this sandbox's directory when it
    is not the default one (so that the hint works as printed)."""
    if layout.directory == default_directory().absolute():
        return f"sshjobs sandbox {verb}"
    return f"sshjobs sandbox {verb} --dir {layout.directory}"


def _remove_new(directory: Path, existed: bool, before: set[str]) -> None:
    """Remove what a failed start created in ``directory`` (all of it when it is new), keeping
    what was there before (the keys of an earlier sandbox stay valid)."""
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        if entry.name in before:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    if not existed:
        with contextlib.suppress(OSError):
            directory.rmdir()


def _log_tail(path: Path) -> str:
    """The last non-empty line of the sandbox log (why a start failed), or ""."""
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


@dataclass(frozen=True)
class RunningSandbox:
    """What ``status`` knows about a background sandbox."""

    layout: Layout
    pid: int
    nodes: list[SandboxNode]

    @property
    def gateway(self) -> SandboxNode | None:
        return next((node for node in self.nodes if node.is_gateway), None)


def _is_our_daemon(pid: int, directory: Path) -> bool:
    """True when ``pid`` runs this module for ``directory`` (not a recycled pid)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return os.fsencode(MODULE) in argv and os.fsencode(str(directory)) in argv


def find_running(directory: str | os.PathLike[str]) -> RunningSandbox | None:
    """The sandbox running for ``directory``; None when there is no state at all.

    Raises :class:`SandboxError` for a stale state (its process is gone).
    """
    layout = Layout(directory)
    state = layout.read_state()
    if state is None:
        return None
    pid = int(state["pid"])
    if not _is_our_daemon(pid, layout.directory):
        raise SandboxError(
            f"stale sandbox state in {layout.directory} (pid {pid} is not "
            f"running): clear it with '{_command('down', layout)}'"
        )
    return RunningSandbox(layout, pid, [SandboxNode.from_dict(n) for n in state["nodes"]])


def start_background(
    directory: str | os.PathLike[str],
    count: int,
    base_port: int | None = None,
    timeout: float = START_TIMEOUT,
) -> RunningSandbox:
    """Start a sandbox in a detached process and return once it serves (or raise why not)."""
    check_node_count(count)
    check_base_port(base_port, count)
    layout = Layout(directory)
    running = find_running(layout.directory)  # raises on a stale state
    if running is not None:
        raise SandboxError(
            f"a sandbox is already running in {layout.directory} "
            f"(pid {running.pid}): stop it first with "
            f"'{_command('down', layout)}'"
        )
    existed = layout.directory.is_dir()
    before = {entry.name for entry in layout.directory.iterdir()} if existed else set()
    layout.directory.mkdir(parents=True, exist_ok=True)
    try:
        return _start(layout, count, base_port, timeout)
    except BaseException as exc:
        if isinstance(exc, subprocess.TimeoutExpired) or (
            isinstance(exc, SandboxError) and "already running" in str(exc)
        ):
            raise  # another sandbox's files, or one still starting: not ours to remove
        tail = "" if layout.log_file.name in before else _log_tail(layout.log_file)
        _remove_new(layout.directory, existed, before)
        if isinstance(exc, SandboxError) and tail and tail not in str(exc):
            raise SandboxError(f"{exc} ({tail})") from exc
        raise


def _start(layout: Layout, count: int, base_port: int | None, timeout: float) -> RunningSandbox:
    """Start the daemon in ``layout``'s (existing) directory; SandboxError if it fails."""
    lock = _lock(layout)
    read_end, write_end = os.pipe()
    argv = [
        sys.executable,
        "-m",
        MODULE,
        "--dir",
        str(layout.directory),
        "--nodes",
        str(count),
        "--ready-fd",
        str(write_end),
        "--lock-fd",
        str(lock),
    ]
    if base_port is not None:
        argv += ["--base-port", str(base_port)]
    try:
        with open(layout.log_file, "ab") as log:
            launcher = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(write_end, lock),
                start_new_session=True,
            )
        os.close(write_end)
        write_end = -1
        launcher.wait(timeout)  # the launcher exits as soon as the daemon has forked off
        report = _read_report(read_end, timeout)
    finally:
        os.close(read_end)
        os.close(lock)  # the daemon holds the lock from now on, until it exits
        if write_end >= 0:
            os.close(write_end)
    if report != "ok":
        raise SandboxError(report or "the sandbox failed to start")
    running = find_running(layout.directory)
    if running is None:  # pragma: no cover - the daemon reports ok only after writing it
        raise SandboxError(f"the sandbox started but wrote no state in {layout.directory}")
    return running


def _lock(layout: Layout) -> int:
    """Take the directory's lock (held by the daemon for its lifetime): one sandbox per dir."""
    fd = os.open(layout.directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SandboxError(
            f"a sandbox is already running or starting in {layout.directory}: "
            f"see '{_command('status', layout)}'"
        ) from None
    return fd


def _read_report(fd: int, timeout: float) -> str:
    """Read the daemon's one-line report until it closes the pipe."""
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            return f"the sandbox did not report ready within {timeout:.0f} s"
        data = os.read(fd, 4096)
        if not data:
            return b"".join(chunks).decode(errors="replace").strip()
        chunks.append(data)


def stop_background(
    directory: str | os.PathLike[str], timeout: float = STOP_TIMEOUT
) -> RunningSandbox | None:
    """Stop the sandbox of ``directory``; return what was stopped (None if nothing ran).

    A stale state is cleared (and reported by raising :class:`SandboxError` nowhere: clearing
    it is what ``down`` is for); the caller learns about it from the None result.
    """
    layout = Layout(directory)
    try:
        running = find_running(layout.directory)
    except SandboxError:
        logger.info("clearing stale sandbox state in %s", layout.directory)
        layout.clear_state()
        return None
    if running is None:
        return None
    os.kill(running.pid, signal.SIGTERM)
    if not _wait_gone(running.pid, timeout):
        logger.warning(
            "sandbox pid %d did not stop within %.0f s: killing it", running.pid, timeout
        )
        with contextlib.suppress(ProcessLookupError):
            os.killpg(running.pid, signal.SIGKILL)
        _wait_gone(running.pid, timeout)
    layout.clear_state()
    return running


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait on a pidfd until ``pid`` has exited; False on timeout."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


# ---- the daemon process itself


async def _serve(directory: Path, count: int, base_port: int | None, ready_fd: int) -> int:
    sandbox = Sandbox(directory, count, base_port=base_port)
    try:
        await sandbox.start()
    except SandboxError as exc:
        os.write(ready_fd, f"{exc}\n".encode())
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    try:
        sandbox.layout.write_state(os.getpid(), sandbox.all_nodes)
        os.write(ready_fd, b"ok\n")
        os.close(ready_fd)
        logger.info("sandbox serving %d nodes, pid %d", len(sandbox.all_nodes), os.getpid())
        await stop.wait()
        logger.info("sandbox stopping")
    finally:
        await sandbox.close()
        state = sandbox.layout.read_state()
        if state and state.get("pid") == os.getpid():
            sandbox.layout.clear_state()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the background process (not meant to be run by hand)."""
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}")
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--nodes", required=True, type=int)
    parser.add_argument("--base-port", type=int)
    parser.add_argument("--ready-fd", required=True, type=int)
    parser.add_argument("--lock-fd", type=int, help="kept open: the directory's lock")
    args = parser.parse_args(argv)
    if os.fork():  # the launcher returns at once; the daemon is re-parented to init
        os._exit(0)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s: %(message)s")
    try:
        return asyncio.run(_serve(args.dir.absolute(), args.nodes, args.base_port, args.ready_fd))
    except Exception as exc:  # reported on the pipe if it is still open, and in the log
        logger.exception("sandbox daemon failed")
        with contextlib.suppress(OSError):
            os.write(args.ready_fd, f"the sandbox failed: {exc}\n".encode())
        return 1


if __name__ == "__main__":
    sys.exit(main())
