"""Refusals (issue 8, case 2): wrong user, wrong key, a changed host key, an unknown host under
the strict policy, a passphrase-protected key. The CLI runs with stdin closed and no terminal:
one line per host saying host, cause and what to do, exit code 3, never a prompt (a prompt would
hang until the subprocess timeout, or show up on stderr).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil

import asyncssh
import pytest
from faultkit import Lines, cli, node

from asynciojobs import Scheduler
from sshjobs import AuthenticationError, HostKeyError, KeyLoadError, SshJob, SshNode

PROMPTS = re.compile(r"password|passphrase for|yes/no|\(y/n\)|continue connecting", re.IGNORECASE)


def one_refusal(done, host_name: str) -> str:
    """The single stderr line of a refused host (its reason), after the common checks."""
    assert done.returncode == 3, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, lines
    assert not PROMPTS.search(done.stderr.replace("passphrase-protected", "")), done.stderr
    prefix = f"sshjobs: {host_name}: unreachable: "
    assert lines[0].startswith(prefix), lines[0]
    return lines[0][len(prefix) :]


@pytest.fixture
def other_key(tmp_path):
    key = asyncssh.generate_private_key("ssh-ed25519")
    path = tmp_path / "other_key"
    key.write_private_key(str(path))
    return path


@pytest.fixture
def bare_home(tmp_path, monkeypatch):
    """A HOME without known_hosts, ssh config or keys (for the CLI and the library)."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    monkeypatch.setenv("HOME", str(home))
    return home


def test_cli_wrong_user(farm):
    host = farm.direct[0]
    reason = one_refusal(cli("run", "-l", "nosuchuser", "-t", host.name, "--", "true"), host.name)
    assert reason.startswith("authentication failed as nosuchuser")
    assert "check" in reason and "authorized" in reason  # what to do


def test_cli_wrong_key(farm, other_key):
    host = farm.direct[1]
    reason = one_refusal(cli("run", "-i", other_key, "-t", host.name, "--", "true"), host.name)
    assert reason.startswith("authentication failed as root (offered 1 key file(s)")
    assert "authorized" in reason


def test_cli_changed_host_key(faulty_farm):
    farm, host = faulty_farm, faulty_farm.direct[0]
    farm.replace_host_key(host)
    reason = one_refusal(cli("run", "-t", host.name, "--", "true"), host.name)
    # recorded under the HostName the ssh config gives the alias, as OpenSSH does
    name = host.address if host.port == 22 else f"'[{host.address}]:{host.port}'"
    assert reason.startswith(
        f"host key MISMATCH for {name.strip(chr(39))}: the server presents SHA256:"
    )
    assert f"{farm.known_hosts}:{farm.hosts.index(host) + 1} has SHA256:" in reason
    assert f"ssh-keygen -R {name} -f {farm.known_hosts}" in reason
    assert "'Host direct*' with 'StrictHostKeyChecking no'" in reason  # testbed opt-out


def test_cli_unknown_host_under_strict_policy(farm, bare_home):
    host = farm.direct[0]
    target = f"root@{host.address}"
    for policy, env in (
        (("--host-keys", "strict"), None),
        ((), {**os.environ, "SSHJOBS_HOST_KEYS": "strict"}),
    ):
        done = cli("run", *policy, "-i", farm.client_key, "-t", target, "--", "true", env=env)
        reason = one_refusal(done, host.address)
        assert reason.startswith("unknown host key SHA256:")
        assert "--host-keys accept-new" in reason and "known_hosts" in reason
    assert not (bare_home / ".ssh" / "known_hosts").exists()  # nothing recorded


def test_cli_passphrase_protected_keys_never_prompt(farm, bare_home, tmp_path):
    host = farm.direct[0]
    key = asyncssh.generate_private_key("ssh-ed25519")
    encrypted = tmp_path / "encrypted"
    key.write_private_key(str(encrypted), "pkcs8-pem", passphrase="pp-never-asked")
    explicit = cli("run", "-i", encrypted, "-t", host.name, "--", "true")
    assert explicit.returncode == 2 and len(explicit.stderr.splitlines()) == 1
    assert "passphrase-protected" in explicit.stderr and "ssh-agent" in explicit.stderr
    assert "pp-never-asked" not in explicit.stderr
    # the same key as the default ~/.ssh/id_ed25519: skipped, named in the refusal
    shutil.copy(encrypted, bare_home / ".ssh" / "id_ed25519")
    reason = one_refusal(
        cli("run", "--host-keys", "ignore", "-t", f"root@{host.address}", "--", "true"),
        host.address,
    )
    assert "skipped passphrase-protected" in reason and "ssh-agent" in reason


def test_cli_refusals_and_a_good_host_in_one_run(faulty_farm, other_key):
    """Each refused host gets its own line; the good one runs; exit 3."""
    farm = faulty_farm
    changed, good = farm.direct
    farm.replace_host_key(changed)
    done = cli("run", "-t", f"{changed.name},nosuchuser@{good.name},{good.name}", "--", "echo fine")
    assert done.returncode == 3
    assert done.stdout == f"{good.name}: fine\n"
    lines = sorted(done.stderr.splitlines())
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"sshjobs: {changed.name}: unreachable: host key MISMATCH")
    assert lines[1].startswith(
        f"sshjobs: nosuchuser@{good.name}: unreachable: authentication failed as nosuchuser"
    )


def test_lib_refusals_are_typed_and_name_the_host(faulty_farm, other_key, bare_home):
    farm = faulty_farm
    changed = farm.direct[0]
    farm.replace_host_key(changed)
    lines = Lines()
    nodes = {
        "user": node(
            farm,
            farm.direct[1],
            username="nosuchuser",
            formatter=lines,
            keys=[str(farm.client_key)],
            known_hosts=str(farm.known_hosts),
        ),
        "key": node(
            farm,
            farm.direct[1],
            keys=[str(other_key)],
            formatter=lines,
            known_hosts=str(farm.known_hosts),
        ),
        "changed": node(
            farm,
            changed,
            keys=[str(farm.client_key)],
            formatter=lines,
            known_hosts=str(farm.known_hosts),
        ),
        # strict policy, empty HOME: the host is unknown, so refused
        "unknown": SshNode(
            farm.direct[1].address,
            username="root",
            formatter=lines,
            keys=[str(farm.client_key)],
            host_keys="strict",
        ),
    }
    jobs = {name: SshJob(n, command="true", critical=False) for name, n in nodes.items()}
    assert Scheduler(*jobs.values()).run()
    errors = {name: job.raised_exception() for name, job in jobs.items()}
    for name in ("user", "key"):
        assert isinstance(errors[name], AuthenticationError), errors[name]
        assert isinstance(errors[name].__cause__, asyncssh.PermissionDenied)
    assert isinstance(errors["changed"], HostKeyError) and errors["changed"].expected
    assert errors["changed"].received not in errors["changed"].expected
    assert isinstance(errors["unknown"], HostKeyError) and errors["unknown"].expected == ()
    for name, error in errors.items():
        assert error.host == nodes[name].hostname
        assert str(error).startswith(f"{nodes[name].hostname}: ")
        assert "\n" not in str(error)


def test_lib_encrypted_key_file_fails_before_connecting(farm, tmp_path):
    key = asyncssh.generate_private_key("ssh-ed25519")
    path = tmp_path / "encrypted"
    key.write_private_key(str(path), "pkcs8-pem", passphrase="pp-lib")
    before = farm.accepted_connections(farm.direct[0])
    built = node(farm, farm.direct[0], keys=[str(path)])  # building reads no key file
    with pytest.raises(KeyLoadError) as caught:
        asyncio.run(built.connect_lazy())  # loaded at the first connection, before the TCP one
    assert "passphrase" in str(caught.value) and "pp-lib" not in str(caught.value)
    assert farm.accepted_connections(farm.direct[0]) == before


def test_cli_sudo_password_without_terminal_nor_stdin_is_refused_not_prompted(farm):
    before = farm.accepted_connections(farm.direct[0])
    done = cli("run", "--ask-sudo-pass", "-t", farm.direct[0].name, "--", "id -u")
    assert done.returncode == 2 and done.stdout == ""
    [line] = done.stderr.splitlines()
    assert "--ask-sudo-pass" in line and "stdin" in line
    assert "sudo password:" not in done.stderr and "Warning" not in done.stderr
    assert farm.accepted_connections(farm.direct[0]) == before
