"""The tools compared, as argv builders: each returns the argv running one fan-out.

A tool gets the targets file (see clients/_common.py), the command, how many times to repeat it
in sequence on each host, and a scratch directory. Python clients write a JSON summary to
`result`; the OpenSSH variants are judged by their exit code.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import harness
from harness import CLIENTS, PEERS_PYTHON, PROJECT_PYTHON, SSHJOBS_CLI

Argv = list[str]


@dataclass(frozen=True)
class Tool:
    name: str
    # (targets, command, repeat, scratch, result) → argv
    build: Callable[[Path, str, int, Path, Path], Argv]
    reports: bool = True  # writes a JSON result file
    project: bool = False  # runs our code (sshjobs/asynciojobs)
    # for tools without a JSON result: scratch → (hosts ok, hosts failed), None if unknown
    collect: Callable[[Path], tuple[int, int] | None] | None = None

    def env(self, base: dict[str, str]) -> dict[str, str]:
        """The client's environment: our code snapshot (harness.project_source) first on the
        path, for our tools only (the peers' venv has the public asynciojobs, which ours must
        never shadow)."""
        if self.project and harness.SOURCE is not None:
            return dict(base, PYTHONPATH=str(harness.SOURCE))
        return base


def _python_client(python: Path, script: str) -> Callable[[Path, str, int, Path, Path], Argv]:
    def build(targets: Path, command: str, repeat: int, scratch: Path, result: Path) -> Argv:
        return [
            str(python),
            str(CLIENTS / script),
            str(targets),
            "--command",
            command,
            "--repeat",
            str(repeat),
            "--result",
            str(result),
        ]

    return build


def ssh_config(targets: Path, scratch: Path, kex: str | None) -> Path:
    """An ssh_config naming every host (and the gateway) with the farm's key and known_hosts."""
    spec = json.loads(targets.read_text())
    lines = []
    gateway = spec.get("gateway")
    if gateway:
        lines += [
            f"Host {gateway['name']}",
            f"  HostName {gateway['address']}",
            f"  Port {gateway['port']}",
        ]
    for host in spec["hosts"]:
        lines += [f"Host {host['name']}", f"  HostName {host['address']}", f"  Port {host['port']}"]
        if gateway:
            lines.append(f"  ProxyJump {gateway['name']}")
    lines += [
        "Host *",
        f"  User {spec['user']}",
        f"  IdentityFile {spec['key']}",
        "  IdentitiesOnly yes",
        f"  UserKnownHostsFile {spec['known_hosts']}",
        "  GlobalKnownHostsFile /dev/null",
        "  StrictHostKeyChecking yes",
        "  BatchMode yes",
        "  ControlMaster no",
        "  LogLevel ERROR",
    ]
    if kex:
        lines.append(f"  KexAlgorithms {kex}")
    name = "ssh_config" + (f"-{kex}" if kex else "")
    path = scratch / name
    path.write_text("\n".join(lines) + "\n")
    (scratch / "hostnames").write_text("".join(f"{h['name']}\n" for h in spec["hosts"]))
    return path


def _openssh(kex: str | None) -> Callable[[Path, str, int, Path, Path], Argv]:
    """OpenSSH `ssh` under `xargs -P <all hosts>`: one process and one connection per command."""

    def build(targets: Path, command: str, repeat: int, scratch: Path, result: Path) -> Argv:
        config = ssh_config(targets, scratch, kex)
        hosts = scratch / "hostnames"
        count = len(hosts.read_text().split())
        ssh = ["ssh", "-F", str(config)]
        if repeat == 1:
            per_host = [*ssh, "{}", command]
        else:  # one connection per command, commands of a host in sequence
            loop = (
                f'for i in $(seq {repeat}); do {shlex.join(ssh)} "$0" {shlex.quote(command)}'
                f" || exit 1; done"
            )
            per_host = ["sh", "-c", loop, "{}"]
        return ["xargs", "-a", str(hosts), "-P", str(max(1, count)), "-I{}", *per_host]

    return build


def cli_targets(targets: Path, scratch: Path) -> Path:
    """A targets file for `sshjobs run -t FILE`: one `[gw->]host:port` a line."""
    spec = json.loads(targets.read_text())
    gateway = spec.get("gateway")
    prefix = f"{gateway['address']}:{gateway['port']}->" if gateway else ""
    path = scratch / "cli-targets"
    path.write_text("".join(f"{prefix}{h['address']}:{h['port']}\n" for h in spec["hosts"]))
    return path


def _sshjobs_cli(targets: Path, command: str, repeat: int, scratch: Path, result: Path) -> Argv:
    spec = json.loads(targets.read_text())
    if repeat != 1:
        raise ValueError("the sshjobs CLI runs one command per host")
    for name in ("cli-ok", "cli-failed"):
        (scratch / name).unlink(missing_ok=True)
    return [
        str(SSHJOBS_CLI),
        "run",
        "-t",
        str(cli_targets(targets, scratch)),
        "-l",
        spec["user"],
        "-i",
        spec["key"],
        "--known-hosts",
        spec["known_hosts"],
        "--ok-to",
        str(scratch / "cli-ok"),
        "--failed-to",
        str(scratch / "cli-failed"),
        "--",
        *shlex.split(command),
    ]


def _cli_collect(scratch: Path) -> tuple[int, int] | None:
    """Hosts listed by `sshjobs run --ok-to/--failed-to` (whitespace-separated targets)."""
    ok, failed = scratch / "cli-ok", scratch / "cli-failed"
    if not ok.exists() and not failed.exists():
        return None
    return _count_words(ok), _count_words(failed)


def _count_words(path: Path) -> int:
    return len(path.read_text().split()) if path.exists() else 0


def account(tool: Tool, sample, size: int, scratch: Path, log: Path | None = None) -> None:
    """Fill in hosts ok/failed for tools that write no JSON result."""
    if tool.reports:
        return
    counted = tool.collect(scratch) if tool.collect else None
    if counted is not None:
        sample.ok, sample.failed = counted
    else:
        sample.ok, sample.failed = (size, 0) if sample.returncode == 0 else (0, size)
    if sample.returncode or sample.failed:
        tail = []
        if log is not None and log.exists():
            tail = [line for line in log.read_text(errors="replace").splitlines() if line][-3:]
        sample.errors = [f"exit code {sample.returncode}", *tail]


TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in [
        Tool("sshjobs", _python_client(PROJECT_PYTHON, "sshjobs_lib.py"), project=True),
        Tool("sshjobs-cli", _sshjobs_cli, reports=False, project=True, collect=_cli_collect),
        Tool("asyncssh", _python_client(PEERS_PYTHON, "asyncssh_raw.py")),
        Tool("apssh", _python_client(PEERS_PYTHON, "apssh_client.py")),
        Tool("parallel-ssh", _python_client(PEERS_PYTHON, "pssh_client.py")),
        Tool("fabric", _python_client(PEERS_PYTHON, "fabric_group.py")),
        Tool("openssh", _openssh(None), reports=False),
        Tool("openssh-c25519", _openssh("curve25519-sha256"), reports=False),
    ]
}
