"""Reduced per-host ssh config copies (sshjobs.transport.sshconfig): asyncssh must resolve
exactly the same options from them as from the full files, files are split once per version,
and the copies are private and removed at exit. No network needed."""

from __future__ import annotations

import getpass
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from asyncssh.config import SSHClientConfig

from sshjobs.transport import sshconfig
from sshjobs.transport.hostconfig import asyncssh_config_paths, host_config
from sshjobs.transport.sshconfig import reduced_config_paths

OPTIONS = (
    "User",
    "Port",
    "Hostname",
    "IdentityFile",
    "ProxyJump",
    "ProxyCommand",
    "UserKnownHostsFile",
    "ConnectTimeout",
    "ServerAliveInterval",
    "ForwardAgent",
)

CONFIG = textwrap.dedent("""\
    # global options, before any Host
    ConnectTimeout 12
    ServerAliveInterval=9

    Host gateway gw
        HostName 10.0.0.1
        User admin
        Port 2222
    Host node-?? !node-13
        User tester
        ProxyJump gateway
        IdentityFile ~/.ssh/nodes_%h
    Host=node-1*,extra
        Port 2200
        ServerAliveInterval 3
    Host *.lab !bad.lab
      HostName %h.internal
      ProxyCommand ssh -W %h:%p gateway
    Host "quoted name" plain
        User quoted
    Host UPPER
        User upper
    Host !nothing-at-all
        ForwardAgent yes
    Host web[1]
        User bracket
    Host *
        User fallback
        Port 22
        UserKnownHostsFile ~/.ssh/kh1 ~/.ssh/kh2
        IdentityFile ~/.ssh/default
        ConnectTimeout 30
    """) + "".join(f"Host host{i}\n    HostName 192.168.0.{i}\n    User u{i}\n" for i in range(50))

HOSTS = [
    "gateway",
    "gw",
    "GW",
    "node-12",
    "node-13",
    "node-1",
    "node-123",
    "node-ab",
    "extra",
    "a.lab",
    "A.LAB",
    "Node-12",
    "bad.lab",
    "x.y.lab",
    "lab",
    "quoted name",
    "quoted",
    "plain",
    "UPPER",
    "upper",
    "nothing-at-all",
    "web1",
    "web[1]",
    "unknown",
    "10.0.0.1",
    "",
] + [f"host{i}" for i in range(0, 60, 7)]


def _resolve(paths: list[str], host: str) -> dict:
    config = SSHClientConfig.load(None, paths, False, False, False, getpass.getuser(), (), host, ())
    return {name: config.get(name) for name in OPTIONS}


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    path.write_text(CONFIG)
    return path


@pytest.mark.parametrize("host", HOSTS)
def test_reduced_config_resolves_like_the_full_file(config_file, host):
    full = _resolve([str(config_file)], host)
    reduced_paths = reduced_config_paths([str(config_file)], host)
    assert reduced_paths != [str(config_file)]
    assert _resolve(reduced_paths, host) == full


def test_reduced_config_is_smaller_and_keeps_only_matching_blocks(config_file):
    [reduced] = reduced_config_paths([str(config_file)], "node-12")
    text = Path(reduced).read_text()
    assert "ConnectTimeout 12" in text and "ServerAliveInterval=9" in text
    assert "Host node-?? !node-13" in text and "Host=node-1*,extra" in text
    assert "Host gateway gw" not in text and "host7" not in text
    assert text.index("node-??") < text.index("node-1*") < text.index("Host *\n")
    assert _resolve([reduced], "node-12")["ProxyJump"] == "gateway"
    assert _resolve([reduced], "node-12")["Port"] == 2200


def test_several_files_are_each_reduced(tmp_path, config_file):
    first = tmp_path / "first"
    first.write_text("Host node-12\n    User first\nHost other\n    User other\n")
    paths = [str(first), str(config_file)]
    for host in ("node-12", "other", "gw", "host3"):
        assert _resolve(reduced_config_paths(paths, host), host) == _resolve(paths, host)


def test_hosts_with_the_same_reduced_config_share_one_file(config_file):
    one = reduced_config_paths([str(config_file)], "unknown")
    other = reduced_config_paths([str(config_file)], "someone-else")
    assert one == other
    assert reduced_config_paths([str(config_file)], "gw") != one


@pytest.mark.parametrize(
    "line",
    [
        "Match host node-12",
        "Include other.conf",
        "CanonicalizeHostname yes",
        'Host "unterminated',
        "Host",
    ],
)
def test_match_include_and_odd_files_are_passed_through(tmp_path, line):
    path = tmp_path / "config"
    path.write_text(f"User global\nHost a\n    User a\n{line}\n    User b\nHost c\n")
    assert reduced_config_paths([str(path)], "a") == [str(path)]
    assert reduced_config_paths([str(path)], "node-12") == [str(path)]


def test_missing_file_is_passed_through(tmp_path):
    missing = str(tmp_path / "nope")
    assert reduced_config_paths([missing], "a") == [missing]


def test_file_is_split_once_per_version_and_again_after_a_change(config_file):
    before = sshconfig._CACHE.split_count
    for host in HOSTS:
        reduced_config_paths([str(config_file)], host)
        host_config([str(config_file)], host)
        asyncssh_config_paths([str(config_file)], host)
    assert sshconfig._CACHE.split_count == before + 1
    assert host_config([str(config_file)], "node-12")["User"] == "tester"

    config_file.write_text(CONFIG.replace("User tester", "User changed"))
    os.utime(config_file, ns=(1, 1))  # a new version even within the mtime granularity
    assert host_config([str(config_file)], "node-12")["User"] == "changed"
    assert (
        _resolve(asyncssh_config_paths([str(config_file)], "node-12"), "node-12")["User"]
        == "changed"
    )
    assert sshconfig._CACHE.split_count == before + 2


def test_config_error_in_reduced_copy_falls_back_to_the_full_file(tmp_path):
    path = tmp_path / "config"
    path.write_text("Host broken\n    Port notanumber\nHost fine\n    User fine\n")
    assert host_config([str(path)], "broken") == {}
    # asyncssh is then given the user's own file, so its error names that file
    assert asyncssh_config_paths([str(path)], "broken") == [str(path)]
    assert host_config([str(path)], "fine")["User"] == "fine"
    assert asyncssh_config_paths([str(path)], "fine") != [str(path)]


def test_reduced_copies_are_private(config_file):
    [reduced] = reduced_config_paths([str(config_file)], "gw")
    directory = os.path.dirname(reduced)
    assert directory == sshconfig._CACHE.directory_if_any()
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert os.stat(directory).st_uid == os.getuid()


def test_reduced_copies_are_removed_at_exit(config_file):
    code = (
        "import os, sys; from sshjobs.transport.sshconfig import reduced_config_paths; "
        "[p] = reduced_config_paths([sys.argv[1]], 'gw'); "
        "assert os.path.exists(p); print(os.path.dirname(p))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(config_file)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    directory = done.stdout.strip()
    assert os.path.basename(directory).startswith("sshjobs-sshconfig-")
    assert not os.path.exists(directory)


@pytest.mark.parametrize(
    ("host", "blocks"),
    [
        ("node-13", ["Host=node-1*,extra", "Host *"]),
        ("node-12", ["Host node-?? !node-13", "Host=node-1*,extra", "Host *"]),
        ("bad.lab", ["Host *"]),
        ("A.LAB", ["Host *"]),
        ("a.lab", ["Host *.lab !bad.lab", "Host *"]),
        ("gw", ["Host gateway gw", "Host *"]),
        ("GW", ["Host *"]),
        ("host7", ["Host *", "Host host7"]),
        ("web1", ["Host *"]),
        ("web[1]", ["Host web[1]", "Host *"]),
        ("nothing-at-all", ["Host *"]),
    ],
)
def test_reduced_copy_keeps_exactly_the_matching_blocks_in_file_order(config_file, host, blocks):
    [reduced] = reduced_config_paths([str(config_file)], host)
    lines = Path(reduced).read_text().splitlines()
    assert [line for line in lines if line.startswith("Host")] == blocks
    assert lines[:2] == ["ConnectTimeout 12", "ServerAliveInterval=9"]


def test_proxyjump_hops_resolve_like_the_full_file_from_the_connection_paths(tmp_path):
    """asyncssh looks the ProxyJump hops up in the config files given for the connection:
    they must resolve from them as from the full files, transitively."""
    path = tmp_path / "config"
    path.write_text(
        CONFIG.replace("Host gateway gw\n", "Host gateway gw\n    ProxyJump jumper@bastion:2022\n")
        + "Host bastion\n    HostName 10.9.9.9\n    User b\n"
    )
    full = [str(path)]
    connection = asyncssh_config_paths(full, "node-12")
    assert connection != full
    for host in ("node-12", "gateway", "bastion"):
        assert _resolve(connection, host) == _resolve(full, host)
    assert _resolve(connection, "bastion")["Hostname"] == "10.9.9.9"
    # a host without hops does not get their blocks
    assert "bastion" not in Path(asyncssh_config_paths(full, "host3")[0]).read_text()


HANDED_OVER = textwrap.dedent("""\
    ConnectTimeout 12
    Host web
        HostName 10.0.0.5
        Port 2222
        User alice
    Host other
        Port 2200
    Host *
        ServerAliveInterval 7
        UserKnownHostsFile /tmp/kh-a /tmp/kh-b
        Compression yes
        HostKeyAlgorithms ssh-ed25519
    """)

CHECKED = (
    "host",
    "port",
    "username",
    "connect_timeout",
    "keepalive_interval",
    "compression_algs",
    "server_host_key_algs",
    "tunnel",
    "proxy_command",
)


@pytest.mark.parametrize(("username", "port"), [("root", ()), ("bob", 2022)])
def test_a_parse_handed_to_asyncssh_gives_the_options_of_its_own_parse(tmp_path, username, port):
    """One parse per host: asyncssh is given our parse of the config (last_config) instead of
    the files, and must resolve the same options as when it reads the files itself."""
    from asyncssh import SSHClientConnectionOptions

    from sshjobs.transport.fastpath import _build_options
    from sshjobs.transport.hostconfig import parsed_config

    path = tmp_path / "config"
    path.write_text(HANDED_OVER)
    base = parsed_config([str(path)], "web")
    assert base is not None
    common = dict(host="web", username=username, port=port, known_hosts=None)
    theirs = SSHClientConnectionOptions(config=[str(path)], **common)
    ours = _build_options(SSHClientConnectionOptions, base, **common)
    for name in CHECKED:
        assert getattr(ours, name) == getattr(theirs, name), name
    assert (ours.host, ours.port, ours.username) == ("10.0.0.5", port or 2222, username)


@pytest.mark.parametrize("line", ["IdentityFile ~/.ssh/id_%r", "ProxyJump gw", "Match user bob"])
def test_configs_asyncssh_must_read_itself_are_not_handed_over(tmp_path, line):
    from sshjobs.transport.hostconfig import parsed_config

    path = tmp_path / "config"
    path.write_text(HANDED_OVER.replace("    Compression yes", "    " + line))
    assert parsed_config([str(path)], "web") is None


RICH = textwrap.dedent("""\
    ConnectTimeout 12
    Compression=yes
    Host web web2
        HostName 10.0.0.5
        Port 2222
        User alice
        IdentityFile ~/.ssh/web_key
        IdentityFile /keys/second
        SendEnv LANG LC_*
        SetEnv A=1 B="two words"
    Host !db *2 other
        Port 2200
        ForwardAgent yes
        LocalForward 8080 localhost:80
    Host *
        User = bob
        ServerAliveInterval 7
        UserKnownHostsFile /tmp/kh-a /tmp/kh-b
        HostKeyAlgorithms ssh-ed25519,rsa-sha2-256
        GlobalKnownHostsFile /dev/null
        StrictHostKeyChecking accept-new
        PreferredAuthentications publickey,password
    """)


@pytest.mark.parametrize("host", ["web", "web2", "other", "db", "elsewhere"])
def test_a_config_built_from_the_cached_tokens_is_asyncssh_own_parse(tmp_path, host):
    """The per-host config is built from lines tokenised once per file version, each given to
    asyncssh's handler: every option must equal what asyncssh's parser gives from the file."""
    from sshjobs.transport.hostconfig import _config_class, _config_from_tokens

    path = tmp_path / "config"
    path.write_text(RICH)
    built = _config_from_tokens([str(path)], host)
    assert built is not None
    # asyncssh's parser, with the two host-key options it does not read itself (issue 14)
    theirs = _config_class().load(
        None, [str(path)], False, False, False, getpass.getuser(), (), host, ()
    )
    assert built._options == theirs._options and built._options
