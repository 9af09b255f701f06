"""Packet captures on the farm's interfaces (tcpdump) and what each tool negotiated."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import harness
import sshwire


class Capture:
    """`with Capture(interface, bpf_filter, path):` records packets to a pcap file."""

    def __init__(self, interface: str, bpf_filter: str, path: Path) -> None:
        self.argv = [
            "tcpdump",
            "-i",
            interface,
            "--immediate-mode",
            "-U",
            "-n",
            "-s",
            "0",
            "-w",
            str(path),
            bpf_filter,
        ]
        self.path = path
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Capture:
        if shutil.which("tcpdump") is None:
            raise RuntimeError("tcpdump is not installed (bench/setup-peers installs it as root)")
        self.proc = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()  # "listening on IFACE, ..." once capturing
        if "listening" not in line:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"tcpdump did not start: {line.strip()}")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        # let the last packets reach the file: wait until it stops growing (≤ 3 s)
        size, deadline = -1, time.monotonic() + 3
        while time.monotonic() < deadline:
            time.sleep(0.2)
            current = self.path.stat().st_size if self.path.exists() else 0
            if current == size:
                break
            size = current
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()

    def connections(self) -> list[sshwire.Connection]:
        return sshwire.connections(sshwire.read_pcap(str(self.path)))


def capture_negotiation(
    farm, tools, scratch: Path, env: dict[str, str], one_host_targets: Path
) -> dict[str, str]:
    """Run every tool on one host under tcpdump; return tool name → negotiated algorithms."""
    interface, bpf = farm.capture_point(1)
    found: dict[str, str] = {}
    for tool in tools:
        pcap = scratch / f"kex-{tool.name}.pcap"
        result = scratch / "result.json"
        try:
            with Capture(interface, bpf, pcap) as capture:
                argv = tool.build(one_host_targets, "true", 1, scratch, result)
                harness.measure(
                    tool.name,
                    1,
                    0,
                    argv,
                    env=tool.env(env),
                    result_file=None,
                    log=scratch / f"kex-{tool.name}.log",
                )
            seen = [sshwire.negotiated(conn) for conn in capture.connections()]
            texts = sorted(
                {
                    f"{n.short()} ({n.client_version.removeprefix('SSH-2.0-')})"
                    for n in seen
                    if n is not None
                }
            )
            found[tool.name] = " / ".join(texts) or "(no SSH connection captured)"
        except (RuntimeError, ValueError, OSError) as exc:
            found[tool.name] = f"(capture failed: {exc})"
        harness.progress(f"{tool.name} negotiated {found[tool.name]}")
    return found
