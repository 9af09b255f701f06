"""SshNode by composition (issue 15, item 7): frozen options resolved once, lazily (building
nodes reads no file), a connection object that owns the asyncssh connection, no mixin."""

from __future__ import annotations

import builtins
import dataclasses
import io
import os

import pytest

from sshjobs import SshNode
from sshjobs.connection import Connection
from sshjobs.transport import options as options_module
from sshjobs.transport.options import ConnectOptions, NodeOptions


class _DiskTouched(AssertionError):
    pass


@pytest.fixture
def home(monkeypatch, tmp_path):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


@pytest.fixture
def no_disk(monkeypatch):
    """Any file access (open, stat, access) fails the test."""

    def refuse(*args, **kwds):
        raise _DiskTouched(f"file access: {args!r}")

    for module, name in (
        (builtins, "open"),
        (io, "open"),
        (os, "open"),
        (os, "stat"),
        (os, "lstat"),
        (os, "access"),
        (os, "listdir"),
        (os, "scandir"),
    ):
        monkeypatch.setattr(module, name, refuse)


def test_building_a_thousand_nodes_reads_no_file(home, no_disk):
    gateway = SshNode("gw", keys=["/no/such/key"], known_hosts="/no/such/known_hosts")
    nodes = [
        SshNode(
            f"node{i}",
            gateway=gateway,
            keys=["/no/such/key"],
            ssh_options={"Port": "2222", "ServerAliveInterval": "2"},
            host_keys="strict",
        )
        for i in range(1000)
    ]
    assert nodes[-1].keepalive_interval == 2.0 and nodes[-1].timeout == 30
    assert [n.distance() for n in (gateway, nodes[0])] == [1, 2]
    with pytest.raises(_DiskTouched):  # resolving reads the ssh config and the keys
        nodes[0].username  # noqa: B018


def test_options_are_frozen_resolved_once_and_replaced_as_a_whole(home, monkeypatch):
    calls = []
    real = options_module.config_user

    def counting(paths, host):
        calls.append(host)
        return real(paths, host)

    monkeypatch.setattr(options_module, "config_user", counting)
    node = SshNode("h", config=None, password="s3cret", passphrase="hidden")
    asked = node.options
    assert isinstance(asked, NodeOptions) and calls == []
    with pytest.raises(dataclasses.FrozenInstanceError):
        asked.port = 2  # type: ignore[misc]
    resolved = asked.resolved
    assert isinstance(resolved, ConnectOptions)
    assert node.username == "root" and node.keyset() is resolved.keyset
    assert asked.resolved is resolved and calls == ["h"]  # once
    node.username = "bob"  # apssh scripts may set attributes: new options, resolved again
    assert node.options is not asked and node.username == "bob"
    assert node.options.resolved is not resolved
    node.port = 2222
    assert node.options.port == 2222 and str(node) == "bob@h:2222"
    for text in (repr(node.options), repr(node.options.resolved), repr(node), str(node)):
        assert "s3cret" not in text and "hidden" not in text


def test_the_node_composes_a_connection_without_mixin(home):
    assert SshNode.__mro__ == (SshNode, object)
    gateway = SshNode("gw", config=None)
    node = SshNode("h", gateway=gateway, config=None, max_sessions=3)
    assert isinstance(node.connection, Connection)
    assert node.connection.gateway is gateway.connection
    assert node.options.gateway == "gw" and node.max_sessions == 3
    assert node.connections_opened == 0 and not node.is_connected()
    assert node.connection.ssh_connection is None
    other = SshNode("gw2", config=None)
    node.gateway = other
    assert node.connection.gateway is other.connection and node.options.gateway == "gw2"
