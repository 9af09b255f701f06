"""The benchmarks' view of the SSH farm: real OpenSSH sshd hosts from tests/fixtures/farm.py.

`BenchFarm(direct=N, private=M)` starts a farm (the same class as the tests' `farm` fixture and
`bin/sshfarm`), writes targets files for the clients, tells where to capture packets and adds
latency; leaving the `with` block removes every process, namespace and file of the farm.
Network namespaces are used when available (SSHJOBS_FARM=loopback forces loopback addresses).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from harness import TOP

sys.path.insert(0, str(TOP))
import contextlib

from tests.fixtures import network
from tests.fixtures.farm import Farm, install_signal_handlers

USER = "root"


class BenchFarm:
    def __init__(
        self,
        direct: int,
        *,
        private: int = 0,
        max_startups: str | None = None,
        mode: str | None = None,
    ) -> None:
        install_signal_handlers()
        deadline = time.monotonic() + 120
        while True:
            try:
                self.farm = Farm(
                    direct=direct,
                    private=private,
                    max_startups=max_startups,
                    mode=mode,
                    start_timeout=max(60.0, direct * 0.3),
                )
                break
            except RuntimeError as exc:
                # the kernel destroys the namespaces of a farm that just closed asynchronously
                # (seconds for hundreds of them): their veth names stay taken until then
                if "File exists" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(3)
        self.home: Path = self.farm.home

    def __enter__(self) -> BenchFarm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the farm, then any of its links the kernel still holds.

        Namespaces whose sockets are still closing (orphaned TCP connections of killed sshd
        sessions) outlive `ip netns delete` for minutes, and with them the veth pairs, whose
        names then block the next farm of the same instance number. Deleting the root-side
        end of our own veths (identified by name *and* interface index, so a newer farm's
        links are never touched) removes the pairs at once."""
        prefix = f"sjf{self.farm.instance}"
        ours = {(index, name) for index, name in _links() if _of_instance(name, prefix)}
        self.farm.close()
        for index, name in _links():
            if (index, name) in ours:
                subprocess.run(["ip", "link", "del", "dev", name], capture_output=True)

    def bare_home(self, directory: Path) -> Path:
        """A client HOME holding only the farm's known_hosts: no ~/.ssh/config (the farm's
        lists every host, which tools that read it per connection pay for per host)."""
        ssh_dir = directory / "bare-home" / ".ssh"
        ssh_dir.mkdir(parents=True, exist_ok=True)
        (ssh_dir / "known_hosts").write_text(Path(self.farm.known_hosts).read_text())
        return ssh_dir.parent

    def describe(self) -> str:
        f = self.farm
        where = "network namespaces" if f.isolated else "loopback addresses"
        return (
            f"{len(f.direct)} direct + {len(f.private)} private hosts + 1 gateway, one real "
            f"OpenSSH sshd each, {where}"
        )

    @staticmethod
    def _entry(host) -> dict:
        return {"name": host.name, "address": host.address, "port": host.port}

    def targets(self, path: Path, count: int, *, private: bool = False) -> Path:
        """Targets file for the first `count` direct hosts (or private hosts via the gateway)."""
        f = self.farm
        hosts = (f.private if private else f.direct)[:count]
        if len(hosts) < count:
            raise ValueError(
                f"the farm has only {len(hosts)} {'private' if private else 'direct'}"
                f" hosts, {count} asked"
            )
        spec = {
            "user": USER,
            "key": str(f.client_key),
            "known_hosts": str(f.known_hosts),
            "hosts": [self._entry(h) for h in hosts],
            "gateway": self._entry(f.gateway) if private else None,
        }
        path.write_text(json.dumps(spec, indent=1))
        return path

    def capture_point(self, count: int, *, private: bool = False) -> tuple[str, str]:
        """(interface, BPF filter) seeing the controller's traffic with the first hosts."""
        f = self.farm
        hosts = [f.gateway] if private else f.direct[:count]
        bpf = "tcp and (" + " or ".join(f"host {h.address}" for h in hosts) + ")"
        interface = f"sjf{f.instance}a" if f.isolated else "lo"
        return interface, bpf

    def latency_method(self) -> str:
        probe = getattr(network, "netem_supported", lambda: True)
        return (
            "tc netem on each host's interface"
            if probe()
            else "the farm's delay relay in front of each sshd (this kernel has no tc netem): "
            "server output delayed, TCP handshake not"
        )

    def delay(self, count: int, ms: float) -> None:
        for host in self.farm.direct[:count]:
            self.farm.delay(host, ms)

    def clear(self, count: int) -> None:
        for host in self.farm.direct[:count]:
            self.farm.clear(host)

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until the sshd session processes of the previous run are gone."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.sessions():
            time.sleep(0.05)

    def server_cpu(self) -> float:
        """CPU seconds used so far by the hosts' sshds and their reaped session processes."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for host in self.farm.hosts:
            if host.process is None:
                continue
            try:
                fields = Path(f"/proc/{host.process.pid}/stat").read_text().rsplit(")", 1)[1]
            except OSError:
                continue
            utime, stime, cutime, cstime = (int(x) for x in fields.split()[11:15])
            total += utime + stime + cutime + cstime
        return total / tick

    def sessions(self) -> int:
        """Number of live sshd session processes (children of the hosts' listening sshds)."""
        count = 0
        for host in self.farm.hosts:
            if host.process is None:
                continue
            pid = host.process.pid
            with contextlib.suppress(OSError):
                count += len(Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
        return count


def _links() -> list[tuple[int, str]]:
    """(index, name) of the root namespace's network interfaces."""
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and parts[0].strip().isdigit():
            found.append((int(parts[0]), parts[1].strip().split("@")[0]))
    return found


def _of_instance(name: str, prefix: str) -> bool:
    rest = name[len(prefix) + 1 :]
    return name == prefix + "a" or (name.startswith(prefix + "h") and rest.isdigit())
