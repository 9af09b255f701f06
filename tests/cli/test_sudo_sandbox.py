"""``--sudo`` / ``--ask-sudo-pass`` end to end on a sandbox node whose PATH holds a stand-in
``sudo`` (the machine has none, and a real one would need a sudoers entry): the stand-in checks
what the real one would get - ``-n``, or ``-A`` with the password from ``$SUDO_ASKPASS``."""

from __future__ import annotations

import pytest
from fixtures.cli import sshjobs

from sshjobs.testing import make_sandbox  # noqa: F401  (fixture)

FAKE_SUDO = """#!/bin/sh
# stand-in for sudo: -n runs the command; -A asks $SUDO_ASKPASS and checks the password
log="$HOME/sudo.log"
case "$1" in
  -n) shift; [ "$1" = "--" ] && shift; echo "sudo -n" >> "$log"; exec "$@" ;;
  -A) shift; [ "$1" = "--" ] && shift
      [ -x "$SUDO_ASKPASS" ] || { echo "sudo: no askpass helper" >&2; exit 90; }
      mode=$(stat -c %a "$SUDO_ASKPASS")
      password=$("$SUDO_ASKPASS")
      [ -e "$SUDO_ASKPASS" ] && { echo "sudo: helper still there" >&2; exit 91; }
      echo "sudo -A helper-mode=$mode" >> "$log"
      [ "$password" = "s3cr3t-pw" ] || { echo "sudo: wrong password" >&2; exit 1; }
      exec "$@" ;;
esac
echo "sudo: unexpected $*" >&2
exit 92
"""


@pytest.fixture
def sudo_node(make_sandbox, tmp_path, monkeypatch):  # noqa: F811
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sudo").write_text(FAKE_SUDO)
    (bin_dir / "sudo").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/local/bin:/usr/bin:/bin")
    nodes = make_sandbox(1, gateway=False)
    node = nodes.nodes[0]
    args = [
        "-l",
        nodes.username,
        "-i",
        str(nodes.client_key),
        "--known-hosts",
        str(nodes.known_hosts),
        "-t",
        f"{node.host}:{node.port}",
    ]
    return args, node


def run(*args, input=None):
    return sshjobs("run", *args, input=input)


def test_sudo_runs_through_sudo_n(sudo_node):
    args, node = sudo_node
    result = run("-r", "--sudo", *args, "--", "echo as-root")
    assert (result.exit_code, result.stdout) == (0, "as-root\n"), result.stderr
    assert (node.home / "sudo.log").read_text() == "sudo -n\n"


@pytest.mark.parametrize("script", [False, True])
def test_ask_sudo_pass_feeds_a_private_self_deleting_helper(sudo_node, script):
    args, node = sudo_node
    command = ["-s", "echo as-root; true"] if script else ["--", "echo as-root"]
    # with every diagnostic on: the password must not show in any log line
    result = run("-r", "--debug", "--ask-sudo-pass", *args, *command, input="s3cr3t-pw\n")
    assert (result.exit_code, result.stdout) == (0, "as-root\n"), result.stderr
    assert "DEBUG" in result.stderr and "s3cr3t-pw" not in result.stderr
    assert (node.home / "sudo.log").read_text() == "sudo -A helper-mode=700\n"
    assert not list(node.home.glob(".sshjobs-*"))


def test_wrong_sudo_password_fails_that_host(sudo_node):
    args, node = sudo_node
    result = run("--ask-sudo-pass", *args, "--", "echo as-root", input="wrong\n")
    assert result.exit_code == 1
    assert "wrong password" in result.stderr and "wrong\n" not in result.stdout
    assert not list(node.home.glob(".sshjobs-*"))
