"""Security (issue 8, case 7): host keys verified by default; ``Run(*argv, quote=True)`` (and
script arguments with ``quote=True``) reach the remote command literally, so an argument such as
``"; touch /tmp/pwned"`` creates nothing; pushed scripts live in a private 0700 directory that
is removed afterwards - also when the script fails, times out or is cancelled; no password,
passphrase or private-key material in logs or output at any verbosity.
"""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess

import asyncssh
import pytest
from faultkit import SSHJOBS, Lines, cli, marker, node, target_of, workers

from asynciojobs import Scheduler
from sshjobs import HostKeyError, Run, RunScript, RunString, SshJob, SshNode


def test_host_keys_verified_by_default(faulty_farm):
    farm = faulty_farm
    host = farm.direct[0]
    plain = SshNode(host.address, username="root", formatter=Lines())  # no key options
    # the farm's ~/.ssh/config says StrictHostKeyChecking yes for every host (with no setting
    # at all, accept-new refuses a changed key as well: tests/sshjobs/test_host_key_policy.py)
    assert plain.host_key_policy.mode == "strict"
    assert plain.host_key_policy.source.startswith("StrictHostKeyChecking yes in ")
    assert SshJob(plain, command="true").node is plain
    farm.replace_host_key(host)  # what a man in the middle looks like
    job = SshJob(SshNode(host.address, username="root", formatter=Lines()), command="true")
    assert Scheduler(job).run() is False
    assert isinstance(job.raised_exception(), HostKeyError)
    assert cli("run", "-t", host.name, "--", "true").returncode == 3


def _nasty(tag: str) -> list[str]:
    return [
        f"; touch /tmp/pwned-{tag}",
        f"$(touch /tmp/pwned-{tag}-b)",
        f"`touch /tmp/pwned-{tag}-c`",
        f"' ; touch /tmp/pwned-{tag}-d; '",
        f'" ; touch /tmp/pwned-{tag}-e; "',
        f"| touch /tmp/pwned-{tag}-f",
        f"&& touch /tmp/pwned-{tag}-g",
        f"\ntouch /tmp/pwned-{tag}-h\n",
        "*",
        "$HOME",
        "back\\slash",
        "",
        "  two  spaces  ",
        "-n",
        "é ü 中",
    ]


@pytest.mark.parametrize("user", ["root", "farmuser"])
def test_literal_arguments_reach_the_remote_command_and_create_nothing(farm, user):
    hosts = [farm.direct[0], farm.private[0]]
    tag = marker()
    args = _nasty(tag)
    expected = "".join(f"[{a}]\n" for a in args).encode()
    lines = Lines()
    gateway = node(farm, farm.gateway, formatter=lines)
    jobs = []
    for host in hosts:
        n = node(
            farm,
            host,
            via=gateway if host in farm.private else None,
            username=farm.user if user == "farmuser" else "root",
            formatter=lines,
        )
        jobs.append(
            SshJob(
                n,
                critical=False,
                commands=[
                    Run("printf", "[%s]\\n", *args, quote=True, keep_output=True),
                    RunString(
                        "#!/bin/sh\nprintf '[%s]\\n' \"$@\"\n", *args, quote=True, keep_output=True
                    ),
                ],
            )
        )
    assert Scheduler(*jobs).run()
    for job in jobs:
        assert [r.stdout for r in job.results] == [expected, expected], job.results
    for host in hosts:
        assert list(farm.tmp_of(host).glob(f"pwned-{tag}*")) == []
        assert list(farm.home_of(host, "root").glob(f"pwned-{tag}*")) == []


def _staged_dirs(farm, host, user) -> list:
    return sorted(farm.home_of(host, user).glob(".sshjobs-*"))


PROBE = """#!/bin/sh
dir=$(dirname "$0")
stat -c '%a %U' "$dir" "$0"
echo "$dir"
case "$1" in fail) exit 7;; sleep) sleep "$2";; esac
"""


@pytest.mark.parametrize("user", ["root", "farmuser"])
def test_pushed_scripts_are_private_and_removed(farm, tmp_path, user):
    host = farm.private[1]
    login = farm.user if user == "farmuser" else "root"
    script = tmp_path / "probe.sh"
    script.write_text(PROBE)
    tag = marker()
    lines = Lines()
    gateway = node(farm, farm.gateway, formatter=lines)
    n = node(farm, host, via=gateway, username=login, formatter=lines)
    before = _staged_dirs(farm, host, login)
    job = SshJob(
        n,
        critical=False,
        commands=[
            RunScript(script, keep_output=True),
            RunString(PROBE, keep_output=True),
            RunScript(script, "fail"),
            RunScript(script, "sleep", tag, timeout=0.5),
        ],
    )
    assert Scheduler(job).run()
    for result in job.results[:2]:
        dir_mode, script_mode, directory = result.stdout.decode().splitlines()[:3]
        assert dir_mode == f"700 {login}" and script_mode == f"700 {login}"
        assert re.fullmatch(r"\./\.sshjobs-[0-9a-f]{10}|\.sshjobs-[0-9a-f]{10}", directory)
    assert job.results[2].exit_status == 7 and job.results[3].error is not None
    # the cancelled case: the whole run times out while the script sleeps; the kill and the
    # removal of the staged copy happen in the scheduler's shutdown, whose default 1 s bound a
    # loaded machine exceeds (two hops: the connection was then aborted before the cleanup)
    cancelled = SshJob(n, command=RunScript(script, "sleep", tag))
    assert Scheduler(cancelled, timeout=1, shutdown_timeout=60).run() is False
    assert _staged_dirs(farm, host, login) == before
    assert not [c for c in farm.processes(host).values() if tag in c]


def test_cli_script_mode_leaves_no_staged_copy(farm, tmp_path):
    script = tmp_path / "probe.sh"
    script.write_text(PROBE)
    hosts = workers(farm)
    before = {h.name: _staged_dirs(farm, h, "root") for h in hosts}
    done = cli("run", "-s", "-t", ",".join(target_of(farm, h) for h in hosts), script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(": 700 root") == 2 * len(hosts)
    assert {h.name: _staged_dirs(farm, h, "root") for h in hosts} == before


def _key_material(path) -> list[str]:
    """Pieces of a private key file that must never be shown: its base64 body lines."""
    text = path.read_text()
    body = [
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("-----")
    ]
    return [line[:24] for line in body if len(line) >= 24]


SECRETS = ("PRIVATE KEY", "pp-SECRET-phrase", "pw-SECRET-word")


def _leaks(text: str, key_pieces: list[str]) -> list[str]:
    return [s for s in (*SECRETS, *key_pieces) if s in text]


def test_cli_debug_and_verbose_output_holds_no_secret(farm, tmp_path):
    """-D -v, a key given with -i, a sudo password given on stdin, a host that fails auth."""
    key_copy = tmp_path / "id_copy"
    key_copy.write_bytes(farm.client_key.read_bytes())
    key_copy.chmod(0o600)
    pieces = _key_material(key_copy)
    assert pieces
    good = farm.direct[0].name
    runs = [  # (result, what stdout must show: the run really happened)
        (
            cli(
                "-D",
                "run",
                "-v",
                "-i",
                key_copy,
                "-t",
                f"{good},nosuchuser@{good}",
                "--",
                "echo hello",
            ),
            f"{good}: hello",
        ),
        (
            cli("-D", "run", "-v", "--json", "-i", key_copy, "-t", good, "--", "echo hello"),
            '"stdout": "hello\\n"',
        ),
        # the farm hosts may have no sudo: what matters is that the password went out
        (
            cli(
                "-D",
                "run",
                "-v",
                "--ask-sudo-pass",
                "-i",
                key_copy,
                "-t",
                good,
                "--",
                "id -u",
                input="pw-SECRET-word\n",
            ),
            "",
        ),
        (cli("-D", "push", "-v", "-i", key_copy, "-t", good, key_copy, "@:/tmp/"), ""),
    ]
    for done, shown in runs:
        assert shown in done.stdout, (done.args, done.stdout, done.stderr)
        assert "DEBUG" in done.stderr  # really at the highest verbosity
        assert _leaks(done.stdout + done.stderr, pieces) == [], done.args
    assert (farm.tmp_of(farm.direct[0]) / key_copy.name).read_bytes() == key_copy.read_bytes()
    (farm.tmp_of(farm.direct[0]) / key_copy.name).unlink(missing_ok=True)


def test_lib_debug_logging_holds_no_secret(farm, tmp_path):
    key = asyncssh.generate_private_key("ssh-ed25519")
    encrypted = tmp_path / "encrypted"
    key.write_private_key(str(encrypted), "pkcs8-pem", passphrase="pp-SECRET-phrase")
    pieces = _key_material(encrypted) + _key_material(farm.client_key)
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Keep(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        from sshjobs import import_private_key

        loaded = import_private_key(encrypted, passphrase="pp-SECRET-phrase")
        lines = Lines()
        nodes = [
            # the password is offered (the good key is not): refused, never logged
            node(
                farm,
                farm.direct[0],
                keys=[loaded],
                password="pw-SECRET-word",
                formatter=lines,
                debug=True,
            ),
            node(
                farm,
                farm.direct[1],
                keys=[str(farm.client_key)],
                formatter=lines,
                debug=True,
                verbose=True,
            ),
        ]
        jobs = [SshJob(n, command="echo hello", critical=False) for n in nodes]
        asyncio.run(Scheduler(*jobs, verbose=True).co_run())
        errors = [str(job.raised_exception()) for job in jobs]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert jobs[0].raised_exception() is not None and jobs[1].raised_exception() is None
    assert any("sshjobs" in r for r in records) and any("Auth" in r for r in records)
    text = "\n".join(records + errors) + repr(lines.lines)
    assert _leaks(text, pieces) == []
    assert "pw-SECRET-word" not in repr(nodes[0]) and "pp-SECRET" not in repr(loaded)


def test_ps_never_shows_the_sudo_password(farm):
    """The sudo password travels in an SFTP-written helper, never on a command line: watch
    every process of the host while the command runs."""
    host = farm.direct[1]
    tag = marker()
    process = subprocess.Popen(
        [
            SSHJOBS,
            "run",
            "--ask-sudo-pass",
            "-t",
            host.name,
            "--",
            f"sleep 0.{tag[:3]}; echo {tag}",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    seen: list[str] = []
    try:
        process.stdin.write("pw-SECRET-word\n")
        process.stdin.close()
        while process.poll() is None:
            seen.extend(farm.processes(host).values())
        process.wait(timeout=30)
        out, err = process.stdout.read(), process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
    assert not [cmd for cmd in seen if "pw-SECRET-word" in cmd]
    assert "pw-SECRET-word" not in out + err
    assert not list(farm.home_of(host).glob(".sshjobs-askpass-*"))
