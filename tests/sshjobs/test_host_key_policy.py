"""Host keys as OpenSSH treats them (issue 14, section 1), on the farm: the policy of each host
(explicit > SSHJOBS_HOST_KEYS > StrictHostKeyChecking > accept-new), user and global
known_hosts files, hashed records, revoked keys, refusals that say what to do, bad values."""
# ruff: noqa: F811 (test parameters are the fixtures imported from sshjobs_helpers)

from __future__ import annotations

import asyncio
import os
import re
import stat

import asyncssh
import pytest
from sshjobs_helpers import Collect, collect  # noqa: F401 (fixtures)

from asynciojobs import Scheduler
from sshjobs import HostKeyError, SshJob, SshNode
from sshjobs.transport.hostkeys import (
    DEFAULT_GLOBAL_FILES,
    DEFAULT_USER_FILES,
    HOST_KEY_MODES,
    HostKeyPolicy,
    SshConfigHostKeys,
)


@pytest.fixture
def home(farm, monkeypatch, tmp_path):
    """A new user's HOME: ~/.ssh holds the key only (no known_hosts, no config)."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    (home / ".ssh" / "id_ed25519").write_bytes(farm.client_key.read_bytes())
    os.chmod(home / ".ssh" / "id_ed25519", 0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSHJOBS_HOST_KEYS", raising=False)
    return home


def known_name(host) -> str:
    return host.address if host.port == 22 else f"[{host.address}]:{host.port}"


def attempt(host, formatter, **kwds) -> BaseException | None:
    """Run ``true`` on ``host``; the exception that stopped it, or None."""
    kwds.setdefault("username", "root")
    job = SshJob(
        SshNode(host.address, port=host.port, formatter=formatter, **kwds),
        command="true",
        critical=False,
    )
    Scheduler(job, timeout=60).run()
    return job.raised_exception()


def config(home, text: str) -> None:
    (home / ".ssh" / "config").write_text(text)


# -- resolution (no connection) --------------------------------------------------------------
def test_policy_order_explicit_then_env_then_ssh_config_then_accept_new():
    says_no = SshConfigHostKeys(strict_host_key_checking="no", source="cfg")
    build = HostKeyPolicy.build
    assert build((), None, config=SshConfigHostKeys(), environ={}).mode == "accept-new"
    assert build((), None, config=says_no, environ={}).mode == "ignore"
    env = {"SSHJOBS_HOST_KEYS": "strict"}
    assert build((), None, config=says_no, environ=env).mode == "strict"
    assert build((), "accept-new", config=says_no, environ=env).mode == "accept-new"
    assert build(None, None, config=says_no, environ=env).mode == "ignore"  # apssh's None
    assert build(None, "strict", environ={}).mode == "strict"
    for value, mode in (
        ("yes", "strict"),
        ("ask", "strict"),
        ("accept-new", "accept-new"),
        ("no", "ignore"),
        ("off", "ignore"),
        ("Accept-New", "accept-new"),
    ):
        policy = build((), None, config=SshConfigHostKeys(value, source="cfg"), environ={})
        assert (policy.mode, policy.source) == (mode, f"StrictHostKeyChecking {value} in cfg")


def test_policy_files_as_openssh_reads_them(tmp_path):
    policy = HostKeyPolicy.build((), None, environ={})
    assert policy.user_files == [os.path.expanduser(f) for f in DEFAULT_USER_FILES]
    assert policy.global_files == list(DEFAULT_GLOBAL_FILES)
    assert policy.record_file == os.path.expanduser("~/.ssh/known_hosts")
    mine = tmp_path / "mine"
    configured = SshConfigHostKeys(
        user_files=(str(tmp_path / "u1"), str(tmp_path / "u2")), global_files=(str(tmp_path / "g"),)
    )
    policy = HostKeyPolicy.build(str(mine), None, config=configured, environ={})
    assert policy.files == [
        str(mine),
        str(tmp_path / "u1"),
        str(tmp_path / "u2"),
        str(tmp_path / "g"),
    ]
    assert policy.record_file == str(mine)  # a file given to the node comes first
    policy = HostKeyPolicy.build((), None, config=configured, environ={})
    assert policy.record_file == str(tmp_path / "u1")


@pytest.mark.parametrize(
    ("kwds", "env", "needle"),
    [
        ({"host_keys": "maybe"}, {}, "host_keys: unknown host-key mode 'maybe'"),
        ({}, {"SSHJOBS_HOST_KEYS": "sometimes"}, "SSHJOBS_HOST_KEYS: unknown host-key mode"),
    ],
)
def test_unknown_mode_is_a_value_error_naming_the_valid_ones(kwds, env, needle, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=re.escape(needle)) as raised:
        SshNode("somehost", config=None, **kwds).host_key_policy  # noqa: B018
    message = str(raised.value)
    assert needle in message and "\n" not in message
    assert all(mode in message for mode in HOST_KEY_MODES)


def test_unknown_strict_host_key_checking_fails_before_connecting(farm, home, collect):
    host = farm.direct[0]
    config(home, f"Host {host.address}\n  StrictHostKeyChecking perhaps\n")
    before = farm.accepted_connections(host)
    node = SshNode(host.address, port=host.port, formatter=collect)  # the config is not read yet
    with pytest.raises(ValueError, match="StrictHostKeyChecking perhaps") as raised:
        asyncio.run(node.connect_lazy())
    message = str(raised.value)
    assert (
        "StrictHostKeyChecking perhaps" in message
        and str(home / ".ssh" / "config") in message
        and "yes, ask, accept-new, no, off" in message
    )
    assert farm.accepted_connections(host) == before


# -- on the farm ------------------------------------------------------------------------------
def test_accept_new_records_in_a_new_ssh_directory_then_strict_trusts(
    farm, tmp_path, monkeypatch, collect
):
    """A HOME without even ~/.ssh: the directory is made 0700 and the file 0600."""
    monkeypatch.setenv("HOME", str(tmp_path / "bare"))
    monkeypatch.delenv("SSHJOBS_HOST_KEYS", raising=False)
    host = farm.direct[0]
    assert attempt(host, collect, keys=[str(farm.client_key)]) is None
    ssh_dir = tmp_path / "bare" / ".ssh"
    recorded = ssh_dir / "known_hosts"
    assert stat.S_IMODE(ssh_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(recorded.stat().st_mode) == 0o600
    name, keytype, data = recorded.read_text().split()
    assert name == known_name(host) and f"{keytype} {data}" == host.host_key.strip()
    assert attempt(host, collect, keys=[str(farm.client_key)], host_keys="strict") is None
    assert attempt(host, collect, keys=[str(farm.client_key)]) is None
    assert len(recorded.read_text().splitlines()) == 1  # not recorded twice
    # the user removes the file: the key recorded in this process is forgotten with it
    recorded.unlink()
    refused = attempt(host, collect, keys=[str(farm.client_key)], host_keys="strict")
    assert isinstance(refused, HostKeyError), refused


def test_new_hosts_met_at_once_are_each_recorded_once(farm, home, collect):
    """A fan-out: every direct host twice (two nodes each) and the gateway, in one run."""
    hosts = [farm.gateway, *farm.direct]
    jobs = [
        SshJob(SshNode(h.address, port=h.port, username="root", formatter=collect), command="true")
        for h in hosts + hosts[1:]
    ]
    assert Scheduler(*jobs, timeout=60).run(), [j.raised_exception() for j in jobs]
    names = [line.split()[0] for line in (home / ".ssh" / "known_hosts").read_text().splitlines()]
    assert sorted(names) == sorted(known_name(h) for h in hosts)


@pytest.mark.parametrize(
    ("value", "trusted", "recorded"),
    [
        ("yes", False, False),
        ("ask", False, False),
        ("accept-new", True, True),
        ("no", True, False),
        ("off", True, False),
    ],
)
def test_each_strict_host_key_checking_value(farm, home, collect, value, trusted, recorded):
    host = farm.direct[1]
    config(home, f"Host {host.address}\n  StrictHostKeyChecking {value}\n")
    error = attempt(host, collect)
    assert (error is None) == trusted, error
    if not trusted:
        assert isinstance(error, HostKeyError)
        assert f"StrictHostKeyChecking {value} in {home / '.ssh' / 'config'}" in str(error)
    assert (home / ".ssh" / "known_hosts").exists() == recorded


def test_ssh_config_options_apply_per_host(farm, home, collect):
    """``Host`` blocks decide per host: one host opted out, the other under the default."""
    one, two = farm.direct
    config(
        home, f"Host {one.address}\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n"
    )
    assert attempt(one, collect) is None and attempt(two, collect) is None
    [line] = (home / ".ssh" / "known_hosts").read_text().splitlines()
    assert line.split()[0] == known_name(two)


def test_env_var_applies_to_the_library(farm, home, collect, monkeypatch):
    monkeypatch.setenv("SSHJOBS_HOST_KEYS", "strict")
    error = attempt(farm.direct[0], collect)
    assert isinstance(error, HostKeyError) and "SSHJOBS_HOST_KEYS=strict" in str(error)
    assert not (home / ".ssh" / "known_hosts").exists()
    monkeypatch.setenv("SSHJOBS_HOST_KEYS", "accept-new")
    config(home, "Host *\n  StrictHostKeyChecking yes\n")  # the environment comes first
    assert attempt(farm.direct[0], collect) is None


def test_global_known_hosts_file(farm, home, collect, tmp_path):
    """A key distributed in the global file is trusted (nothing recorded for the user); a
    changed one is refused naming the global file and line."""
    host = farm.direct[0]
    global_file = tmp_path / "ssh_known_hosts"
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    global_file.write_text(
        f"# fleet keys\nsomewhere.else {other}\n{known_name(host)} {host.host_key.strip()}\n"
    )
    config(home, f"Host *\n  GlobalKnownHostsFile {global_file}\n  StrictHostKeyChecking yes\n")
    assert attempt(host, collect) is None
    assert not (home / ".ssh" / "known_hosts").exists()
    global_file.write_text(f"# fleet keys\n{known_name(host)} {other}\n")
    config(home, f"Host *\n  GlobalKnownHostsFile {global_file}\n")  # default: accept-new
    error = attempt(host, collect)
    assert isinstance(error, HostKeyError) and error.expected
    assert f"{global_file}:2 has {error.expected[0]}" in str(error)
    assert not (home / ".ssh" / "known_hosts").exists()  # a changed key is not recorded


def test_hash_known_hosts(farm, home, collect):
    host = farm.direct[1]
    config(home, "Host *\n  HashKnownHosts yes\n")
    assert attempt(host, collect) is None
    [line] = (home / ".ssh" / "known_hosts").read_text().splitlines()
    assert line.startswith("|1|") and host.address not in line
    assert line.split()[1:] == host.host_key.split()
    assert attempt(host, collect, host_keys="strict") is None  # the hashed name matches


def test_revoked_key_is_refused_under_accept_new(farm, home, collect):
    host = farm.direct[0]
    (home / ".ssh" / "known_hosts").write_text(f"@revoked * {host.host_key.strip()}\n")
    error = attempt(host, collect)
    assert isinstance(error, HostKeyError) and "revoked" in str(error)
    assert attempt(host, collect, host_keys="ignore") is None


def test_changed_key_refused_with_the_fix_and_other_hosts_unaffected(faulty_farm, home):
    farm = faulty_farm
    changed, good = farm.direct
    lines = Collect()
    assert attempt(changed, lines) is None and attempt(good, lines) is None  # both recorded
    farm.replace_host_key(changed)
    jobs = [
        SshJob(
            SshNode(h.address, port=h.port, username="root", formatter=lines),
            command="echo fine",
            critical=False,
        )
        for h in (changed, good)
    ]
    Scheduler(*jobs, timeout=60).run()
    error = jobs[0].raised_exception()
    assert jobs[1].raised_exception() is None and b"fine\n" in lines.stdout(good.address)
    assert isinstance(error, HostKeyError) and error.received not in error.expected
    message = str(error)
    recorded = home / ".ssh" / "known_hosts"
    removed = changed.address if changed.port == 22 else f"'[{changed.address}]:{changed.port}'"
    assert (
        f"the server presents {error.received} but {recorded}:1 has {error.expected[0]}" in message
    )
    assert f"ssh-keygen -R {removed} -f {recorded}" in message
    assert "StrictHostKeyChecking no" in message and "\n" not in message
    for mode in ("strict", "accept-new"):  # refused under both
        assert isinstance(attempt(changed, lines, host_keys=mode), HostKeyError)
    assert attempt(changed, lines, host_keys="ignore") is None


def test_proxyjump_hops_follow_the_node_policy_and_are_shared(farm, home, collect):
    """ProxyJump hops of the ssh config are opened by us, with the node's host-key policy
    (a new user's accept-new records the jump host) and keys; nodes jumping through the same
    host share one connection to it."""
    gateway, privates = farm.gateway, farm.private[:2]
    jump = f"root@{gateway.address}:{gateway.port}"
    config(
        home,
        "".join(
            f"Host fit0{i}\n  HostName {p.name}\n  Port {p.port}\n  User root\n  ProxyJump {jump}\n"
            for i, p in enumerate(privates, 1)
        ),
    )
    # strict: the unknown jump host is refused, and the refusal names it
    job = SshJob(
        SshNode("fit01", formatter=collect, host_keys="strict"), command="true", critical=False
    )
    Scheduler(job, timeout=60).run()
    error = job.raised_exception()
    assert isinstance(error, HostKeyError), error
    assert gateway.address in str(error) and "\n" not in str(error)
    before = farm.accepted_connections(gateway)
    jobs = [
        SshJob(SshNode(f"fit0{i}", formatter=collect), command="echo through", critical=False)
        for i in (1, 2)
    ]
    assert Scheduler(*jobs, timeout=60).run()
    assert all(job.raised_exception() is None for job in jobs)
    assert farm.accepted_connections(gateway) == before + 1
    recorded = (home / ".ssh" / "known_hosts").read_text()
    name = gateway.address if gateway.port == 22 else f"[{gateway.address}]:{gateway.port}"
    assert recorded.startswith(f"{name} ")  # the first hop is recorded first
    assert all(p.name in recorded for p in privates)
