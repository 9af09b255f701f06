"""Measurement plumbing shared by the benchmarks: run a client, time it, summarise, report.

Every tool runs as its own subprocess; `os.wait4` gives its wall time, the CPU time (user + sys)
of its whole process tree (children it waited for included: the `ssh` processes under `xargs`)
and its peak resident memory (`ru_maxrss`: the largest single process of the tree).
The harness itself runs in the peers virtualenv (bench/.venv-peers) and never imports the
tools it measures.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
TOP = BENCH.parent
CLIENTS = BENCH / "clients"
OUT = Path(os.environ.get("SSHJOBS_BENCH_OUT") or BENCH / "out")  # raw results
PEERS_VENV = BENCH / ".venv-peers"
PEERS_PYTHON = PEERS_VENV / "bin" / "python"
PROJECT_PYTHON = TOP / ".venv" / "bin" / "python"
SSHJOBS_CLI = TOP / ".venv" / "bin" / "sshjobs"


PEER_TOOLS = {"asyncssh", "apssh", "parallel-ssh", "fabric"}


def ensure_python(tool_names: Iterable[str]) -> None:
    """Re-exec the calling benchmark under a Python that can run it.

    Peer tools need the peers virtualenv (bench/.venv-peers, created here if missing); without
    them the project's .venv is enough (the farm needs asyncssh). The harness never imports the
    tools it measures, so either interpreter will do for the harness itself.
    """
    if PEER_TOOLS & set(tool_names):
        if Path(sys.prefix).resolve() == PEERS_VENV.resolve():
            return
        if not PEERS_PYTHON.exists():
            subprocess.run([str(BENCH / "setup-peers")], check=True, stdout=subprocess.DEVNULL)
        target = PEERS_PYTHON
    else:
        try:
            import asyncssh  # noqa: F401

            return
        except ImportError:
            target = PROJECT_PYTHON
    if not PROJECT_PYTHON.exists():
        subprocess.run([str(TOP / "bin" / "setup")], check=True)
    os.execv(str(target), [str(target), *sys.argv])


# --- one measured run -------------------------------------------------------------------------


@dataclass
class Sample:
    tool: str
    size: int
    run: int
    wall: float  # seconds, whole process (interpreter start-up included)
    user: float
    sys: float
    maxrss_mb: float
    returncode: int
    ok: int = 0
    failed: int = 0
    t_ready: float = 0.0  # client-reported: start → set-up done
    t_run: float = 0.0  # client-reported: the fan-out itself
    errors: list[str] = field(default_factory=list)
    server_cpu: float = 0.0  # CPU of the farm's sshds during the run (when measured)
    machine_cpu: float = 0.0  # CPU of the whole machine during the run (when measured)

    @property
    def other_cpu(self) -> float:
        """CPU used during the run by neither the client nor the sshds: other people's work
        (and the harness), i.e. how disturbed the measurement was."""
        return max(0.0, self.machine_cpu - self.cpu - self.server_cpu)

    @property
    def cpu(self) -> float:
        return self.user + self.sys


def measure(
    tool: str,
    size: int,
    run: int,
    argv: list[str],
    *,
    env: dict[str, str],
    result_file: Path | None,
    cwd: str = "/",
    timeout: float = 600,
    nofile: int | None = None,
    log: Path | None = None,
) -> Sample:
    """Run argv to completion and return what the kernel says it cost.

    `nofile` sets the client's soft RLIMIT_NOFILE (to check that a tool raises it itself).
    The client's stdout/stderr go to `log` (or /dev/null): printing is part of the tool's cost.
    """
    if result_file is not None:
        result_file.unlink(missing_ok=True)

    def preexec() -> None:
        if nofile is not None:
            _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))

    with open(log or os.devnull, "ab") as sink:
        start = time.monotonic()
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            preexec_fn=preexec,
            start_new_session=True,
        )
        killer = threading.Timer(timeout, _kill_group, (proc.pid,))
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    _kill_group(proc.pid)  # nothing of the client may survive it (daemonised helpers)
    sample = Sample(
        tool,
        size,
        run,
        wall,
        usage.ru_utime,
        usage.ru_stime,
        usage.ru_maxrss / 1024,
        proc.returncode,
    )
    if result_file is not None and result_file.exists():
        try:
            reported = json.loads(result_file.read_text())
        except ValueError:
            reported = {"errors": ["unreadable result file"]}
        for key in ("ok", "failed", "t_ready", "t_run", "errors"):
            if key in reported:
                setattr(sample, key, reported[key])
    elif proc.returncode != 0 and not sample.errors:
        sample.errors = [f"exit code {proc.returncode}"]
    return sample


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def client_env(home: Path) -> dict[str, str]:
    """A clean environment: isolated HOME, no agent, the machine's PATH."""
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
    }
    return env


SOURCE: Path | None = None  # set by project_source(): where the clients import our code from


def project_source() -> tuple[Path | None, str]:
    """Which sshjobs/asynciojobs code the benchmarks measure → (PYTHONPATH entry, description).

    The work tree is shared with engineers editing it, so by default the benchmarks measure a
    snapshot of the last commit (`git archive HEAD`), put first on the clients' PYTHONPATH
    (ahead of the editable install). SSHJOBS_BENCH_SOURCE=worktree measures the work tree as
    it is instead; SSHJOBS_BENCH_SOURCE=<commit> a snapshot of that commit (before/after
    comparisons)."""
    revision = os.environ.get("SSHJOBS_BENCH_SOURCE", "HEAD")
    if revision == "worktree":
        return None, "the work tree as it was (uncommitted changes included)"
    global SOURCE
    commit = subprocess.run(
        ["git", "-C", str(TOP), "log", "-1", "--format=%h (%cI)", revision],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not commit:
        return None, "the work tree (not a git checkout)"
    target = Path(tempfile.mkdtemp(prefix="sshjobs-bench-source-"))
    _remove_at_exit(target)
    archive = subprocess.Popen(
        ["git", "-C", str(TOP), "archive", revision, "sshjobs", "asynciojobs"],
        stdout=subprocess.PIPE,
    )
    subprocess.run(["tar", "-x", "-C", str(target)], stdin=archive.stdout, check=True)
    archive.wait()
    # byte-compile now, so that no measured run pays for it
    subprocess.run(
        [str(PROJECT_PYTHON), "-m", "compileall", "-q", str(target)],
        check=False,
        stdout=subprocess.DEVNULL,
    )
    SOURCE = target
    return target, f"commit {commit}"


# --- statistics -------------------------------------------------------------------------------


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def linear_fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least squares y = a + b·x → (a, b)."""
    if len({x for x, _ in points}) < 2:
        return float("nan"), float("nan")
    slope, intercept = statistics.linear_regression([x for x, _ in points], [y for _, y in points])
    return intercept, slope


def group(samples: list[Sample]) -> dict[tuple[str, int], list[Sample]]:
    groups: dict[tuple[str, int], list[Sample]] = {}
    for sample in samples:
        groups.setdefault((sample.tool, sample.size), []).append(sample)
    return groups


# --- reporting --------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "kernel": platform.release(),
        "memory": _meminfo(),
        "python": platform.python_version(),
        "openssh": _run(["ssh", "-V"]).strip(),
    }


def _meminfo() -> str:
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        return f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        return "?"


def machine_busy() -> float:
    """CPU seconds the whole machine has spent not idle since boot (all cores)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _run(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        return proc.stdout + proc.stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"({exc})"


def versions() -> dict[str, str]:
    """Versions of every tool measured (peers venv and project venv)."""
    found: dict[str, str] = {}
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    for python, names in (
        (
            PEERS_PYTHON,
            [
                "apssh",
                "asynciojobs",
                "parallel-ssh",
                "ssh2-python",
                "gevent",
                "fabric",
                "paramiko",
                "asyncssh",
                "cryptography",
            ],
        ),
        (PROJECT_PYTHON, ["sshjobs", "asyncssh", "cryptography", "click"]),
    ):
        text = _run([str(python), "-P", "-c", code, *names])
        try:
            for name, version in json.loads(text).items():
                label = name if python == PEERS_PYTHON else f"{name} (project .venv)"
                found[label] = version
        except ValueError:
            found[str(python)] = text.strip()[:200]
    found["openssh client"] = _run(["ssh", "-V"]).strip()
    found["sshd"] = (
        _run(["/usr/sbin/sshd", "-V"]).strip().splitlines()[0]
        if shutil.which("sshd") or Path("/usr/sbin/sshd").exists()
        else "?"
    )
    found["xargs"] = _run(["xargs", "--version"]).splitlines()[0]
    return found


def save_raw(name: str, payload: dict[str, Any]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = OUT / f"{name}-{stamp}.json"

    def default(obj: Any) -> Any:
        if isinstance(obj, Sample):
            return asdict(obj)
        return str(obj)

    path.write_text(json.dumps(payload, indent=1, default=default))
    return path


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines)


def workdir(prefix: str) -> Path:
    """A scratch directory removed when the benchmark exits (SSHJOBS_BENCH_KEEP=1 keeps it)."""
    path = Path(tempfile.mkdtemp(prefix=f"sshjobs-bench-{prefix}-"))
    _remove_at_exit(path)
    return path


def _remove_at_exit(path: Path) -> None:
    if not os.environ.get("SSHJOBS_BENCH_KEEP"):
        atexit.register(shutil.rmtree, path, ignore_errors=True)


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


Builder = Callable[..., tuple[list[str], Path | None]]
