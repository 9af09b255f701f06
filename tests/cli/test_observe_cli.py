"""``--monitor``, ``--report``, ``--events`` and ``sshjobs report``, end to end: a scenario of
local jobs (a failed command, a node that cannot be reached, a skipped job), a run on sandbox
nodes, and the report rendered by headless Chromium when it is installed."""

from __future__ import annotations

import os
import re
import shutil
import socket
import struct
import subprocess
import textwrap
import zlib
from html.parser import HTMLParser

import pytest
from fixtures.cli import sshjobs

from asynciojobs import Job, Scheduler
from sshjobs import LocalNode, Run, SshJob
from sshjobs.testing import make_sandbox  # noqa: F401  (fixture)


class Rows(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "data-job" in attrs:
            self.rows[attrs["data-job"]] = attrs


def rows_of(path):
    parser = Rows()
    parser.feed(path.read_text())
    return parser.rows


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def scenario_file(tmp_path):
    path = tmp_path / "observed.yaml"
    path.write_text(
        textwrap.dedent(f"""
        scheduler: {{on_failed_requirement: skip}}
        nodes:
          - {{id: here, localnode: true}}
          - {{id: dead, hostname: 127.0.0.1, port: {free_port()}, username: nobody}}
        jobs:
          - id: prepare
            node: here
            commands: ["echo preparing; echo '<b>bold</b> & more'"]
          - id: broken
            node: here
            required: prepare
            critical: false
            commands: ["echo about to fail >&2; exit 3"]
          - id: unreachable
            node: dead
            critical: false
            commands: ["true"]
          - id: after
            node: here
            required: unreachable
            commands: ["echo never"]
        """)
    )
    return path


def test_scenario_report_events_and_monitor(scenario_file, tmp_path):
    report, events = tmp_path / "run.html", tmp_path / "run.jsonl"
    result = sshjobs(
        "scenario", scenario_file, "--monitor", "--report", report, "--events", events, "-c", "5"
    )
    assert result.exit_code in (1, 3), result.output
    # not a terminal: one plain line per start and end, naming the job and its node
    assert re.search(r"s started +echo preparing.* \[here\]", result.stderr)
    assert re.search(r"s FAILED +echo about to fail.*\[here\]: exit 3", result.stderr)
    assert re.search(r"s skipped +echo never \[here\]: requirement", result.stderr)
    rows = rows_of(report)
    by_command = {label.split(";")[0].split(" >&2")[0]: attrs for label, attrs in rows.items()}
    assert by_command["echo preparing"]["data-outcome"] == "done"
    assert by_command["echo about to fail"]["data-outcome"] == "failed"
    assert by_command["echo about to fail"]["data-status"].startswith("exit 3")
    assert by_command["echo about to fail"]["data-tail"] == "about to fail"
    assert by_command["true"]["data-outcome"] == "failed"
    assert by_command["true"]["data-node"] == "dead"
    assert by_command["echo never"]["data-outcome"] == "skipped"
    assert by_command["echo preparing"]["data-node"] == "here"
    assert by_command["echo preparing"]["data-tail"].splitlines() == [
        "preparing",
        "<b>bold</b> & more",
    ]
    assert "<b>bold</b>" not in report.read_text()
    # the same report, later, from the events file
    later = tmp_path / "later.html"
    done = sshjobs("report", events, "-o", later)
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == str(later)
    keys = ("data-outcome", "data-node", "data-tail", "data-status")
    replayed = rows_of(later)
    assert {k: [a.get(key) for key in keys] for k, a in replayed.items()} == {
        k: [a.get(key) for key in keys] for k, a in rows.items()
    }
    for label, attrs in rows.items():  # the snapshot counts from the first start: ≈ same times
        for key in ("data-start", "data-end"):
            if attrs[key]:
                assert abs(float(attrs[key]) - float(replayed[label][key])) < 0.05


def test_report_command_refuses_what_is_not_an_events_file(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "started"}\n')
    result = sshjobs("report", bad)
    assert result.exit_code == 1 and "not an events file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    missing = sshjobs("report", tmp_path / "nope.jsonl")
    assert missing.exit_code == 2 and "no such events file" in missing.stderr


def test_unwritable_report_is_a_usage_error_before_anything_runs(scenario_file, tmp_path):
    result = sshjobs("scenario", scenario_file, "--report", tmp_path / "no" / "such" / "dir.html")
    assert result.exit_code == 2 and "cannot write --report file" in result.stderr
    assert "preparing" not in result.stdout


def test_run_on_sandbox_nodes_with_report_and_monitor(make_sandbox, tmp_path):  # noqa: F811
    nodes = make_sandbox(3, gateway=False)
    targets = ",".join(f"{node.host}:{node.port}" for node in nodes.nodes)
    report = tmp_path / "run.html"
    result = sshjobs(
        "run",
        "-l",
        nodes.username,
        "-i",
        nodes.client_key,
        "--known-hosts",
        nodes.known_hosts,
        "-t",
        targets,
        "--monitor",
        "--report",
        report,
        "--",
        "echo hello from $SSHJOBS_SANDBOX_NODE; test $SSHJOBS_SANDBOX_NODE != node2",
    )
    assert result.exit_code == 1, result.output
    assert result.stdout.count("hello from") == 3
    rows = rows_of(report)
    assert len(rows) == 3
    outcomes = sorted(attrs["data-outcome"] for attrs in rows.values())
    assert outcomes == ["done", "done", "failed"]
    for attrs in rows.values():
        assert attrs["data-node"] == attrs["data-job"]  # the host, as the output names it
        assert attrs["data-tail"].startswith("hello from node")
        assert float(attrs["data-start"]) <= float(attrs["data-end"])
    assert len(re.findall(r"s started ", result.stderr)) == 3


# ---- rendering in a real browser ---------------------------------------------------------------
def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _png_is_not_blank(data: bytes) -> bool:
    """Decode an 8-bit RGB(A) PNG just enough to count its colours (no imaging library)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    colours = {raw[i : i + 3] for i in range(1, min(len(raw), 3_000_000), 97)}
    return header is not None and len(colours) > 20


@pytest.mark.skipif(_chromium() is None, reason="chromium not installed (bin/setup installs it)")
def test_report_renders_in_headless_chromium_without_console_errors(tmp_path):
    sched = Scheduler(on_failed_requirement="skip")
    node = LocalNode()
    first = SshJob(node, command=Run("echo one; echo '<i>two</i>'"), label="first", scheduler=sched)
    broken = SshJob(
        node, command=Run("exit 4"), critical=False, label="broken", scheduler=sched, required=first
    )

    async def fail():
        raise RuntimeError("no luck")

    raiser = Job(fail, label="raiser", scheduler=sched, required=first)
    Job(fail, label="skipped", scheduler=sched, required=raiser)
    inner = Scheduler(
        SshJob(node, command=Run("sleep 0.2"), label="inner"),
        label="nested",
        scheduler=sched,
        required=broken,
    )
    assert sched.run() is True
    assert inner.is_done()
    report = tmp_path / "report.html"
    sched.export_as_report(report)
    shot = tmp_path / "shot.png"
    profile = tmp_path / "profile"
    done = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,900",
            f"--screenshot={shot}",
            f"file://{report}#job-0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    assert shot.exists(), done.stderr[-2000:]
    assert _png_is_not_blank(shot.read_bytes())


def test_scenario_monitor_on_a_terminal_keeps_the_output_whole(tmp_path):
    """Through a real pty: the live area is drawn, every output line of the jobs appears
    whole above it (starting on a cleared line), the cursor comes back at the end."""
    import fcntl
    import sys
    import termios

    path = tmp_path / "live.yaml"
    path.write_text(
        textwrap.dedent("""
        nodes:
          - {id: here, localnode: true}
          - {id: there, localnode: true}
        jobs:
          - {id: one, node: here, commands: ["for i in 1 2 3 4; do echo one $i; sleep 0.1; done"]}
          - {id: two, node: there, critical: false,
             commands: ["for i in 1 2 3; do echo two $i; sleep 0.1; done; exit 5"]}
        """)
    )
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    sshjobs = os.path.join(os.path.dirname(sys.executable), "sshjobs")
    proc = subprocess.Popen(
        [sshjobs, "scenario", str(path), "--monitor"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=60) == 1
    out = re.sub(r"\x1b\[[0-9;]*m", "", b"".join(chunks).decode("utf-8", "replace"))
    assert out.startswith("\x1b[?25l") and out.rfind("\x1b[?25h") > out.rfind("\x1b[?2026h")
    for line in ["here: one 1", "here: one 4", "there: two 1", "there: two 3"]:
        assert re.search(rf"(\x1b\[J|\r\n){line}\r\n", out), line
    assert re.search(r"FAILED +for i in 1 2 3; do echo two.*\[there\]: exit 5", out)
    assert re.search(r"\d\.\ds  here  for i in 1 2 3 4.*│ one \d", out)
    assert "sshjobs: there: exit status 5" in out
