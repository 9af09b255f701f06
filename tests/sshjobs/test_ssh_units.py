"""Parts of sshjobs that need no server: formatters, keys, session slots, job shapes, errors,
topology."""

from __future__ import annotations

import asyncio
import re

import asyncssh
import pytest

from asynciojobs import Scheduler
from sshjobs import (
    CaptureFormatter,
    CommandFailedError,
    Deferred,
    HostFormatter,
    KeyLoadError,
    LocalNode,
    RawFormatter,
    Run,
    RunScript,
    SshJob,
    SshJobsError,
    SshNode,
    SubdirFormatter,
    TerminalFormatter,
    TimeHostFormatter,
    Variables,
    import_private_key,
    load_private_keys,
    topology_as_dotfile,
    topology_as_pngfile,
    topology_dot,
)
from sshjobs.keys import default_keys
from sshjobs.session import SessionSlots

STDERR = asyncssh.EXTENDED_DATA_STDERR


@pytest.fixture
def home(monkeypatch, tmp_path):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


def _node(name="fit01.example.org", **kwds):
    return SshNode(name, config=None, **kwds)


def test_host_and_time_formatters(capsys, home):
    formatter = HostFormatter()
    node = _node(formatter=formatter)
    formatter.line(b"hello {host} \xff\n", None, node.hostname)
    formatter.line(b"bad", STDERR, node.hostname)
    out, err = capsys.readouterr()
    assert out == "fit01:hello {host} \ufffd\n"  # remote text is not a format
    assert err == "fit01:bad\n"
    TimeHostFormatter().line(b"x\n", None, "10.0.0.1")
    assert re.fullmatch(r"\d\d-\d\d-\d\d:10\.0\.0\.1:x\n", capsys.readouterr().out)
    custom = TerminalFormatter("[%H] {user}{fqdn} {line}!{nl}")
    _node(formatter=custom, username="alice")
    custom.line(b"y\n", None, "fit01.example.org")
    assert re.fullmatch(r"\[\d\d\] alice@fit01\.example\.org y!\n", capsys.readouterr().out)
    RawFormatter().line(b"raw", None, "h")
    assert capsys.readouterr().out == "raw\n"


def test_subdir_formatter_keeps_bytes(tmp_path):
    formatter = SubdirFormatter(tmp_path / "run")
    formatter.session_start("h1", "cmd")
    formatter.line(b"\x00\xffa\n", None, "h1")
    formatter.line(b"e\n", STDERR, "h1")
    formatter.session_stop("h1", "cmd")
    formatter.session_start("h1", "cmd")
    formatter.line(b"more", None, "h1")
    formatter.session_stop("h1", "cmd")
    assert (tmp_path / "run" / "h1").read_bytes() == b"\x00\xffa\nmore"
    assert (tmp_path / "run" / "h1.err").read_bytes() == b"e\n"


def test_capture_formatter(capsys):
    formatter = CaptureFormatter()
    formatter.start_capture()
    formatter.line(b"a\n", None, "h")
    formatter.line(b"shown\n", STDERR, "h")
    formatter.line(b"b\n", None, "h")
    assert formatter.get_capture() == "a\nb\n"
    assert capsys.readouterr().err == "shown\n"


def test_default_keys_loaded_once_and_shared(home):
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(str(home / ".ssh" / "id_ed25519"))
    first, second = _node("a"), _node("b")
    assert first.keyset() is second.keyset() is default_keys()
    assert len(default_keys().keys) == 1
    assert load_private_keys()[0] is default_keys().keys[0]


def test_passphrase_protected_keys_never_prompt(home):
    key = asyncssh.generate_private_key("ssh-ed25519")
    path = home / ".ssh" / "id_ecdsa"
    key.write_private_key(str(path), "pkcs8-pem", passphrase="secret")
    with pytest.raises(KeyLoadError, match=r"passphrase-protected.*ssh-add"):
        import_private_key(path)
    node = _node(keys=[str(path)])  # built without reading the key: loaded when first needed
    with pytest.raises(KeyLoadError):
        node.keyset()
    assert import_private_key(path, passphrase="secret") is not None
    keyset = default_keys()  # a default file: skipped, and said so
    assert keyset.keys == [] and keyset.encrypted == [str(path)]
    assert "passphrase-protected" in keyset.describe()
    assert import_private_key(home / "none") is None


def test_session_slots_wait_shrink_and_grow():
    async def main():
        slots = SessionSlots(2)
        peak = 0

        async def user():
            nonlocal peak
            await slots.acquire()
            peak = max(peak, slots.in_use)
            await asyncio.sleep(0.01)
            slots.release()

        await asyncio.gather(*(user() for _ in range(7)))
        assert peak == 2 and slots.in_use == 0
        for _ in range(2):
            await slots.acquire()
        assert slots.refused() and slots.limit == 1  # one other session open
        slots.release()
        slots.opened()
        assert slots.limit == 2  # probing back up
        slots.release()
        await slots.acquire()
        assert not slots.refused()  # alone: waiting would not help

    asyncio.run(main())


def test_job_command_shapes(home):
    node = LocalNode()
    assert [type(c) for c in SshJob(node, command="ls").commands] == [Run]
    assert SshJob(node, command=["echo", "a", "b"]).commands[0].argv == ("echo", "a", "b")
    mixed = SshJob(node, commands=[Run("a"), "b", None, RunScript("/x")]).commands
    assert [type(c) for c in mixed] == [Run, Run, RunScript]
    assert SshJob(node, command="x", commands="y").commands[0].argv == ("y",)
    deferred = Deferred("echo {{v}}", Variables(v=1))
    assert str(SshJob(node, command=deferred).commands[0]) == "echo 1"
    with pytest.raises(TypeError):
        SshJob(node, commands=[Run("a"), 3])
    with pytest.raises(ValueError, match=r"^SshJob needs command= or commands=$"):
        SshJob(node)
    with pytest.raises(ValueError, match=r"^SshJob: node must be an SshNode or a LocalNode, not "):
        SshJob("not a node", command="x")
    job = SshJob(node, commands=[Run("a"), Run("b"), Run("c")])
    assert job.text_label() == "a .. + 2" and job.is_critical()
    assert SshJob(node, command="x", critical=False).is_critical() is False


def test_errors_name_their_host():
    exc = CommandFailedError(
        "command failed", host="h1", exit_status=2, stderr_tail="l1\nl2\nl3\nl4\n"
    )
    assert isinstance(exc, SshJobsError)
    assert str(exc) == "h1: command failed -- stderr: l2 | l3 | l4"
    assert str(CommandFailedError("plain")) == "plain"


def test_variables_and_deferred_without_values():
    variables = Variables()
    assert variables.missing == ""
    variables.x = "1"
    deferred = Deferred("a {{x}} {{y}}", variables)
    assert str(deferred) == "a 1 {{ y }}"
    assert str(deferred.replace("a", "b")) == "b 1 {{ y }}"


def test_topology_dot_and_node_identity(home):
    gateway = _node("gw", username="me")
    inner = _node("n1", gateway=gateway)
    deeper = _node("n2", gateway=inner)
    assert (gateway.distance(), inner.distance(), deeper.distance()) == (1, 2, 3)
    assert str(deeper) == "me@gw->root@n1->root@n2"
    scheduler = Scheduler(SshJob(deeper, command="true"), SshJob(gateway, command="true"))
    dot = topology_dot(scheduler)
    assert '"me@gw" -> "me@gw->root@n1";' in dot
    assert '"LOCALNODE" -> "me@gw";' in dot
    assert '"me@gw" [label="me@gw"];' in dot
    # nodes told apart by their port only show it (sandbox and loopback farms)
    by_port = SshNode("127.0.0.1", username="u", port=2201)
    assert by_port.endpoint() == "u@127.0.0.1:2201" and gateway.endpoint() == "me@gw"
    assert '[label="u@127.0.0.1:2201"]' in topology_dot(Scheduler(SshJob(by_port, command="true")))
    assert SshJob(by_port, command="true").details().splitlines()[0] == "u@127.0.0.1:2201"
    with pytest.raises(ValueError, match=r"^SshNode x: gateway must be an SshNode, not 'not a"):
        SshNode("x", gateway="not a node")


def test_emit_lines_keeps_partial_tails_and_bounds_long_lines():
    from sshjobs.session import MAX_LINE, emit_lines

    seen = []

    class Sink:
        def line(self, line, datatype, hostname):
            seen.append((line, datatype))

    partial = {}
    for chunk in (b"ab", b"c\nd", b"e\nf\n", b"g"):
        emit_lines(partial, chunk, None, "h", Sink())
    emit_lines(partial, b"err\n", STDERR, "h", Sink())
    assert seen == [(b"abc\n", None), (b"de\n", None), (b"f\n", None), (b"err\n", STDERR)]
    assert bytes(partial[None]) == b"g"
    seen.clear()
    partial.clear()
    chunk = b"x" * 65536
    for _ in range(MAX_LINE // len(chunk) + 1):
        emit_lines(partial, chunk, None, "h", Sink())
    assert [len(line) for line, _ in seen] == [MAX_LINE]


def test_pid_report_is_stripped_after_login_noise():
    from sshjobs.results import CommandResult
    from sshjobs.session import LineSession, report_pid

    class Sink:
        def __init__(self):
            self.lines = []

        def line(self, line, datatype, hostname):
            self.lines.append(line)

    async def main():
        sink = Sink()
        result = CommandResult(host="h", command="c")
        session = LineSession("h", sink, result, capture=False, expect_pid=True)
        for chunk in (b"bash: warning: x\nssh", b"jobs-pid:4242\nreal ", b"err\n"):
            session.data_received(chunk, STDERR)
        session.connection_lost(None)
        assert session.remote_pid == 4242
        assert sink.lines == [b"bash: warning: x\n", b"real err\n"]
        assert result.stderr_tail == b"bash: warning: x\nreal err\n"

    asyncio.run(main())
    assert report_pid("ls") == 'echo "sshjobs-pid:$$" >&2; ls'


def test_topology_files_and_local_run(home, tmp_path):
    import shutil

    gateway = _node("gw")
    scheduler = Scheduler(SshJob(_node("n1", gateway=gateway), command="true"))
    topology_as_dotfile(scheduler, tmp_path / "t.dot")
    assert "->" in (tmp_path / "t.dot").read_text()
    if shutil.which("dot"):
        png = topology_as_pngfile(scheduler, tmp_path / "t")
        with open(png, "rb") as handle:
            assert handle.read(4) == b"\x89PNG"
    node = LocalNode()
    assert asyncio.run(node.run("pwd > out.txt; exit 3", cwd=str(tmp_path))) == 3
    assert (tmp_path / "out.txt").read_text().strip() == str(tmp_path)
    assert asyncio.run(node.run("echo hidden", ignore_outputs=True)) == 0
