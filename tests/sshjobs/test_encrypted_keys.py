"""Passphrase-protected keys (OpenSSH format, bcrypt): given, default and from the ssh config,
decrypted with SshNode(passphrase=...); a clear KeyLoadError without it or with a wrong one."""
# ruff: noqa: F811 (test parameters are the fixtures imported from sshjobs_helpers)

from __future__ import annotations

import re

import asyncssh
import pytest
from sshjobs_helpers import collect, nodes  # noqa: F401 (fixtures)

from asynciojobs import Scheduler
from sshjobs import KeyLoadError, Run, SshJob, SshNode


@pytest.fixture
def encrypted_key(nodes, tmp_path):
    """The farm's client key, written passphrase-protected in OpenSSH's format."""
    path = tmp_path / "id_ed25519"
    asyncssh.read_private_key(str(nodes.farm.client_key)).write_private_key(
        str(path), passphrase="right horse"
    )
    assert b"OPENSSH PRIVATE KEY" in path.read_bytes()
    return path


def _echo(node: SshNode, collect) -> bytes:
    job = SshJob(node, command=Run("echo", "in"))
    assert Scheduler(job).run(), job.raised_exception()
    return collect.stdout()


def test_a_given_encrypted_key_with_its_passphrase_logs_in(nodes, collect, encrypted_key):
    node = nodes.node(nodes.farm.direct[0], keys=[str(encrypted_key)], passphrase="right horse")
    assert _echo(node, collect) == b"in\n"


def test_without_or_with_a_wrong_passphrase_a_clear_error_before_connecting(nodes, encrypted_key):
    host = nodes.farm.direct[0]
    before = nodes.farm.accepted_connections(host)
    job = SshJob(nodes.node(host, keys=[str(encrypted_key)]), command=Run("true"))
    assert Scheduler(job).run() is False  # the key is loaded at the first connection
    assert isinstance(job.raised_exception(), KeyLoadError)
    assert re.search("passphrase-protected.*ssh-add.*passphrase=", str(job.raised_exception()))
    with pytest.raises(KeyLoadError, match=r"cannot decrypt .* with the passphrase given"):
        nodes.node(host, keys=[str(encrypted_key)], passphrase="wrong").keyset()
    assert nodes.farm.accepted_connections(host) == before


def test_an_encrypted_default_key_with_the_passphrase(
    nodes, collect, encrypted_key, tmp_path, monkeypatch
):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    encrypted_key.rename(home / ".ssh" / "id_ed25519")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    host = nodes.farm.direct[0]
    common = dict(
        port=host.port,
        username="root",
        known_hosts=str(nodes.farm.known_hosts),
        config=None,
        formatter=collect,
    )
    node = SshNode(host.address, passphrase="right horse", **common)
    assert _echo(node, collect) == b"in\n"
    refused = SshNode(host.address, **common)  # skipped without passphrase: named in the error
    job = SshJob(refused, command="true", critical=False)
    Scheduler(job).run()
    assert "passphrase-protected" in str(job.raised_exception()), job.raised_exception()
