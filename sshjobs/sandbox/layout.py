"""The files of a sandbox: keys, homes, known_hosts, ssh_config, targets, state.

Everything a client needs to talk to the sandbox lives in one directory, so that a user (or a
test) can point ``ssh``, ``sshjobs`` or ``SshNode`` at it without touching ``~/.ssh``::

    DIR/client_key, client_key.pub   the only key the nodes accept
    DIR/known_hosts                  every node's host key, as [127.0.0.1]:PORT lines
    DIR/ssh_config                   Host aliases (gateway, node1, ...) for ``ssh -F``
    DIR/targets                      one node a line (gateway->host:port), for ``sshjobs -t``
    DIR/env                          ``export SSHJOBS_KEY=... SSHJOBS_KNOWN_HOSTS=...`` to source
    DIR/state.json                   pid and nodes of a running sandbox (``sandbox up``)
    DIR/lock                         flock held by the background sandbox while it runs
    DIR/nodes/NAME/host_key          that node's host key
    DIR/nodes/NAME/home/             that node's home: commands run there, SFTP is confined there
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncssh

KEY_ALGORITHM = "ssh-ed25519"


@dataclass(frozen=True)
class SandboxNode:
    """One running sandbox node, as a client sees it."""

    name: str
    host: str
    port: int
    home: Path
    is_gateway: bool = False

    @property
    def target(self) -> str:
        """``host:port``: how the ``sshjobs`` command line names this node."""
        return f"{self.host}:{self.port}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["home"] = str(self.home)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SandboxNode:
        return cls(
            name=data["name"],
            host=data["host"],
            port=int(data["port"]),
            home=Path(data["home"]),
            is_gateway=bool(data.get("is_gateway", False)),
        )


class Layout:
    """Paths of a sandbox directory, and the code that writes them."""

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory).absolute()

    client_key = property(lambda self: self.directory / "client_key")
    known_hosts = property(lambda self: self.directory / "known_hosts")
    ssh_config = property(lambda self: self.directory / "ssh_config")
    targets = property(lambda self: self.directory / "targets")
    env_file = property(lambda self: self.directory / "env")
    state_file = property(lambda self: self.directory / "state.json")
    log_file = property(lambda self: self.directory / "sandbox.log")

    def node_dir(self, name: str) -> Path:
        return self.directory / "nodes" / name

    def home(self, name: str) -> Path:
        return self.node_dir(name) / "home"

    def prepare_node(self, name: str) -> asyncssh.SSHKey:
        """Create the node's home and host key (kept across restarts); return the host key."""
        self.home(name).mkdir(parents=True, exist_ok=True)
        return _load_or_generate(self.node_dir(name) / "host_key")

    def client_private_key(self) -> asyncssh.SSHKey:
        """The sandbox's client key, generated on first use."""
        self.directory.mkdir(parents=True, exist_ok=True)
        return _load_or_generate(self.client_key)

    def write_client_files(
        self, nodes: list[SandboxNode], host_keys: dict[str, asyncssh.SSHKey]
    ) -> None:
        """Write known_hosts, ssh_config and targets for the nodes now listening."""
        gateway = next((node for node in nodes if node.is_gateway), None)
        known = [
            f"[{node.host}]:{node.port} "
            f"{host_keys[node.name].export_public_key('openssh').decode().strip()}\n"
            for node in nodes
        ]
        _write(self.known_hosts, "".join(known))
        config = [f"# ssh -F {self.ssh_config} node1\n"]
        for node in nodes:
            config += [
                f"Host {node.name}\n",
                f"    HostName {node.host}\n",
                f"    Port {node.port}\n",
                f"    IdentityFile {self.client_key}\n",
                "    IdentitiesOnly yes\n",
                f"    UserKnownHostsFile {self.known_hosts}\n",
                "    StrictHostKeyChecking yes\n",
                "    BatchMode yes\n",
            ]
            if gateway and not node.is_gateway:
                config.append(f"    ProxyJump {gateway.name}\n")
        _write(self.ssh_config, "".join(config))
        via = f"{gateway.target}->" if gateway else ""
        targets = ["# sandbox nodes, one a line ([gateway->]host:port), for sshjobs -t FILE\n"]
        targets += [f"{via}{node.target}  # {node.name}\n" for node in nodes if not node.is_gateway]
        _write(self.targets, "".join(targets))
        _write(
            self.env_file,
            f"# source this file to point sshjobs at the sandbox\n"
            f"export SSHJOBS_KEY={self.client_key}\n"
            f"export SSHJOBS_KNOWN_HOSTS={self.known_hosts}\n"
            f"export SSHJOBS_SANDBOX_TARGETS={self.targets}\n",
        )

    def write_state(self, pid: int, nodes: list[SandboxNode]) -> None:
        """Record a running sandbox: which process serves it, and its nodes."""
        state = {
            "pid": pid,
            "directory": str(self.directory),
            "nodes": [node.as_dict() for node in nodes],
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.state_file)

    def read_state(self) -> dict[str, Any] | None:
        """The recorded state, or None when there is none (or it is unreadable)."""
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and "pid" in data else None

    def clear_state(self) -> None:
        self.state_file.unlink(missing_ok=True)


def _load_or_generate(path: Path) -> asyncssh.SSHKey:
    if path.exists():
        return asyncssh.read_private_key(str(path))
    key = asyncssh.generate_private_key(
        KEY_ALGORITHM, comment=f"sshjobs-sandbox-{path.parent.name}"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.export_private_key("openssh"))
    _write(path.with_name(path.name + ".pub"), key.export_public_key("openssh").decode())
    return key


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
