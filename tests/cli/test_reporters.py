"""Output modes rendered from synthetic host events (no network): live, raw, format, gather,
JSON, per-host files with marks, host lists, progress line."""

import io
import json

import pytest

from sshjobs.cli.console import Console, LineFormat
from sshjobs.cli.exit import ExitCode
from sshjobs.cli.outcome import HostOutcome
from sshjobs.cli.reporters import (
    DirReporter,
    Fanout,
    GatherReporter,
    JsonReporter,
    ListsReporter,
    LiveReporter,
)
from sshjobs.errors import CommandFailedError, SshConnectionError
from sshjobs.targets import Target, read_spec


class Tty(io.StringIO):
    def isatty(self):
        return True


def console(tty=False, progress=None):
    out, err = (Tty(), Tty()) if tty else (io.StringIO(), io.StringIO())
    return Console(out=out, err=err, progress=progress), out, err


def outcome(name, user=None, gateway=None):
    target = Target(name, user=user, gateway=Target(gateway) if gateway else None)
    return HostOutcome(target=target, name=name)


def play(reporter, script):
    """script: list of (outcome, [(stream, bytes)...], ending) with ending a callable."""
    outcomes = [o for o, _, _ in script]
    for o, lines, ending in script:
        o.begin()
        reporter.host_started(o)
        for stream, data in lines:
            (o.stdout if stream == "stdout" else o.stderr).extend(data)
            reporter.line(o, stream, data)
        if ending:
            ending(o)
            reporter.host_done(o)
    reporter.finish(outcomes)
    return outcomes


def ok(o):
    o.succeed()


def status(n):
    return lambda o: o.returned(n)


def unreachable(o):
    o.fail(SshConnectionError("connection refused", host=o.name))


def standard_script():
    return [
        (outcome("fit01"), [("stdout", b"hello\n"), ("stderr", b"warn\n")], ok),
        (outcome("fit02"), [("stdout", b"hello\n"), ("stderr", b"warn\n")], ok),
        (outcome("fit03"), [("stdout", b"other\n")], status(3)),
        (outcome("fit04"), [], unreachable),
    ]


def test_live_default_prefixes_and_separates_streams():
    con, out, err = console()
    play(LiveReporter(con, LineFormat("{host}: {line}")), standard_script())
    assert out.getvalue() == "fit01: hello\nfit02: hello\nfit03: other\n"
    assert err.getvalue().splitlines() == [
        "fit01: warn",
        "fit02: warn",
        "sshjobs: fit03: exit status 3",
        "sshjobs: fit04: unreachable: connection refused",
    ]


def test_live_raw_keeps_exact_bytes():
    out, err = io.BytesIO(), io.BytesIO()
    con = Console(out=io.TextIOWrapper(out), err=io.TextIOWrapper(err), progress=False)
    o = outcome("h")
    play(
        LiveReporter(con, LineFormat(None), report_errors=False),
        [(o, [("stdout", b"\xff\xfebin\n"), ("stderr", b"e\n")], ok)],
    )
    con.out.flush()
    assert out.getvalue() == b"\xff\xfebin\n"
    assert err.getvalue() == b"e\n"


def test_custom_format_fields_and_bad_format():
    con, out, _ = console()
    fmt = LineFormat("[{user}@{host}|{stream}|{target}] {line} %Y")
    play(
        LiveReporter(con, fmt),
        [(outcome("n1", user="root", gateway="gw"), [("stdout", b"x\n")], ok)],
    )
    line = out.getvalue()
    assert line.startswith("[root@n1|out|gw->root@n1] x 2")
    assert line.endswith("\n") and line.count("\n") == 1
    with pytest.raises(ValueError, match="unknown or bad field"):
        LineFormat("{hots}: {line}")


def test_gather_folds_identical_outputs():
    con, out, err = console()
    script = [
        *standard_script(),
        (outcome("fit05"), [("stdout", b"hello\n"), ("stderr", b"warn\n")], ok),
    ]
    play(GatherReporter(con), script)
    text = out.getvalue()
    assert "fit[01-02,05] (3)\n" in text
    assert text.count("hello\n") == 1
    assert "fit03 (1) exit status 3\n" in text
    assert "fit[01-02,05] stderr:\nwarn\n" in err.getvalue()
    assert "sshjobs: fit03: exit status 3\n" in err.getvalue()
    assert "sshjobs: fit04: unreachable: connection refused\n" in err.getvalue()


def test_json_one_record_per_host():
    con, out, err = console()
    never = outcome("fit09")
    script = [*standard_script(), (never, [], None)]
    play(JsonReporter(con), script)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["host"] for r in records] == ["fit01", "fit02", "fit03", "fit04", "fit09"]
    first, failed, down, unfinished = records[0], records[2], records[3], records[4]
    assert first["status"] == "ok" and first["exit_status"] == 0
    assert first["stdout"] == "hello\n" and first["stderr"] == "warn\n"
    assert first["start"] <= first["end"]
    assert failed["status"] == "failed" and failed["exit_status"] == 3
    assert down["status"] == "unreachable" and down["exit_status"] is None
    assert down["error"] == {"class": "SshConnectionError", "message": "connection refused"}
    assert unfinished["status"] == "unfinished"
    assert err.getvalue() == ""


def test_json_record_stays_on_one_line_for_every_line_splitter():
    con, out, _ = console()
    text = "a\u2028b\u2029c\x85d\x0be\x1cf é\n"
    play(JsonReporter(con), [(outcome("h"), [("stdout", text.encode())], ok)])
    line = out.getvalue()
    assert len(line.splitlines()) == 1 and line.endswith("\n")
    assert json.loads(line)["stdout"] == text and "é" in line


def test_json_keeps_binary_output_in_base64():
    con, out, _ = console()
    play(JsonReporter(con), [(outcome("h"), [("stdout", b"\xff\n")], ok)])
    record = json.loads(out.getvalue())
    assert record["stdout"] == "\ufffd\n" and record["stdout_base64"] == "/wo="


def test_dir_reporter_files_and_marks_reusable_as_targets(tmp_path):
    directory = tmp_path / "run"
    (directory / "1failed").mkdir(parents=True)
    (directory / "1failed" / "fit01").write_text("stale\n")
    play(DirReporter(directory, mark=True), standard_script())
    assert (directory / "fit01").read_bytes() == b"hello\n"
    assert (directory / "fit01.err").read_bytes() == b"warn\n"
    assert (directory / "fit03").read_bytes() == b"other\n"
    assert not (directory / "fit03.err").exists()
    assert not (directory / "fit04").exists()
    assert (directory / "0ok" / "fit01").read_text() == "0\n"
    assert not (directory / "1failed" / "fit01").exists()
    assert (directory / "1failed" / "fit03").read_text() == "3\n"
    assert "connection refused" in (directory / "1failed" / "fit04").read_text()
    assert [str(t) for t in read_spec(str(directory / "1failed"))] == ["fit03", "fit04"]
    assert [str(t) for t in read_spec(str(directory / "0ok"))] == ["fit01", "fit02"]


def test_lists_reporter_writes_reusable_target_files(tmp_path):
    ok_file, failed_file = tmp_path / "ok", tmp_path / "failed"
    script = standard_script()
    script[0] = (outcome("fit01", user="root", gateway="gw"), script[0][1], ok)
    play(ListsReporter(str(ok_file), str(failed_file)), script)
    assert ok_file.read_text() == "gw->root@fit01\nfit02\n"
    assert [str(t) for t in read_spec(str(failed_file))] == ["fit03", "fit04"]


def test_progress_line_only_on_terminal_and_never_inside_output():
    con, out, err = console(tty=False)
    fan = Fanout(con, [LiveReporter(con, LineFormat("{host}: {line}"))], total=4)
    play(fan, standard_script())
    assert "done" not in err.getvalue() and "\r" not in err.getvalue()

    con, out, err = console(tty=True)
    fan = Fanout(con, [LiveReporter(con, LineFormat("{host}: {line}"))], total=4)
    play(fan, standard_script())
    text = err.getvalue()
    assert "[sshjobs] 4/4 done, 2 failed, 0 running" in text
    # every output line starts on a cleared line: progress is wiped before, redrawn after
    for line in (
        f"{con.host_color('fit01', stderr=True)}: warn\n",
        f"sshjobs: {con.host_color('fit04', stderr=True)}: ",
    ):
        position = text.index(line)
        assert text[position - 4 : position] == "\r\x1b[K"
    # the progress line is removed at the end, replaced by a summary
    assert text.endswith("\r\x1b[K[sshjobs] 4 hosts: 2 ok, 1 failed, 1 unreachable\n")
    assert out.getvalue().count("hello") == 2


def test_colors_on_terminal_but_not_with_no_color(monkeypatch):
    con, out, _ = console(tty=True)
    play(
        LiveReporter(con, LineFormat("{host}: {line}")), [(outcome("h"), [("stdout", b"x\n")], ok)]
    )
    assert "\x1b[" in out.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    con, out, _ = console(tty=True)
    play(
        LiveReporter(con, LineFormat("{host}: {line}")), [(outcome("h"), [("stdout", b"x\n")], ok)]
    )
    assert out.getvalue() == "h: x\n"


def test_outcome_reasons_and_codes():
    o = outcome("h")
    o.fail(CommandFailedError("failed", host="h", exit_status=None, signal="TERM"))
    assert (o.code, o.reason) == (ExitCode.FAILED, "killed by signal TERM")
    o = outcome("h")
    o.fail(TimeoutError())
    assert (o.code, o.reason) == (ExitCode.TIMEOUT, "timed out")
    o = outcome("h")
    assert o.reason == "did not finish" and not o.settled


def test_display_names_stay_short_but_unique():
    from sshjobs.cli.engine import display_names
    from sshjobs.targets import parse_target

    targets = [
        parse_target(t)
        for t in ("fit01", "fit02:2222", "root@n1", "bob@n1", "gw1->n2", "gw2->n2", "x@h", "x@h:22")
    ]
    assert display_names(targets) == [
        "fit01",
        "fit02:2222",
        "root@n1",
        "bob@n1",
        "gw1->n2",
        "gw2->n2",
        "h",
        "h:22",
    ]


def test_hosts_stopped_together_get_one_folded_line():
    con, _out, err = console()
    reporter = LiveReporter(con, LineFormat("{host}: {line}"))
    outcomes = [outcome(f"fit0{i}") for i in range(1, 5)]
    for o in outcomes[:3]:  # started, then Ctrl-C
        o.begin()
        reporter.host_started(o)
    outcomes[0].returned(2)
    reporter.host_done(outcomes[0])
    for o in outcomes[1:]:
        o.stopped_by_run = True
        o.fail(KeyboardInterrupt("interrupted"), ExitCode.INTERRUPTED)
        reporter.host_done(o)
    reporter.finish(outcomes)
    # fit04 never started: not listed; the others once, folded
    assert err.getvalue().splitlines() == [
        "sshjobs: fit01: exit status 2",
        "sshjobs: fit[02-03]: interrupted",
    ]
