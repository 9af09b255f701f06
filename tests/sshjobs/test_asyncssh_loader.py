"""sshjobs.asyncssh_loader: asyncssh imported without its liboqs lookup gives the same asyncssh."""

from __future__ import annotations

import subprocess
import sys

from sshjobs.transport import loader as asyncssh_loader

PROBE = ("import asyncssh.crypto.pq as pq, ctypes.util; "
         "print(pq.mlkem_available, pq.sntrup_available, ctypes.util.find_library.__module__)")


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def test_same_post_quantum_support_as_a_plain_import():
    assert _run("import sshjobs; " + PROBE) == _run(PROBE)


def test_find_library_is_restored_after_the_import():
    assert _run("import sshjobs; " + PROBE).endswith(" ctypes.util")


def test_a_liboqs_on_ld_library_path_is_looked_up(tmp_path, monkeypatch):
    monkeypatch.setenv("LD_LIBRARY_PATH", str(tmp_path))
    before = asyncssh_loader.may_have_liboqs()
    (tmp_path / "liboqs.so.5").write_bytes(b"")
    assert asyncssh_loader.may_have_liboqs()
    if not before:   # this machine has no liboqs: the shortcut applies without the file
        (tmp_path / "liboqs.so.5").unlink()
        assert not asyncssh_loader.may_have_liboqs()


class _Unprintable:
    def __str__(self) -> str:
        raise AssertionError("formatted although not logged")


def test_asyncssh_log_arguments_formatted_only_when_logged(caplog):
    from asyncssh.logging import logger
    child = logger.get_child("sshjobs-test", context="conn=1")
    with caplog.at_level("INFO", logger="asyncssh"):
        child.debug("never shown %s", [_Unprintable()])      # below INFO: not formatted
        child.info("shown %s and %s", [b"ab", "cd"], ("host", 22))
    assert [r.getMessage() for r in caplog.records] == ["[conn=1] shown ab,cd and host, port 22"]


def test_config_lines_are_split_as_shlex_does_and_errors_still_raise():
    import shlex

    import pytest
    from asyncssh import config
    assert isinstance(config.shlex, asyncssh_loader._MemoisedShlex)
    for line in ['Host a b "c d"', "IdentityFile ~/.ssh/id_ed25519", "User=root",
                 "ProxyCommand ssh -W %h:%p gw", "Host 'x y'"]:
        first, second = config.shlex.split(line), config.shlex.split(line)
        assert first == second == shlex.split(line)
        first.append("changed")                   # callers get their own list
        assert config.shlex.split(line) == shlex.split(line)
    for _ in range(2):
        with pytest.raises(ValueError, match="quotation"):
            config.shlex.split('Host "unterminated')


def test_a_config_file_is_parsed_the_same(tmp_path):
    from asyncssh.config import SSHClientConfig
    path = tmp_path / "config"
    path.write_text('Host web "db 2"\n  HostName 10.0.0.5\n  Port 2222\n'
                    "Host *\n  User=alice\n  IdentityFile ~/.ssh/id_ed25519\n")
    for _ in range(2):
        parsed = SSHClientConfig.load(None, [path], False, False, False, "me", (), "web", ())
        assert (parsed.get("Hostname"), parsed.get("Port"), parsed.get("User")) == \
            ("10.0.0.5", 2222, "alice")
