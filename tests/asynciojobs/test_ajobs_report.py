"""The run report: data attributes of the timeline, escaping, graph, events replay."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
from html.parser import HTMLParser

import pytest
from ajobs_helpers import boom, forever_loop, sleeper

from asynciojobs import Job, Scheduler
from asynciojobs import report as report_module
from asynciojobs.fakeclock import fake_clock_run
from asynciojobs.record import EventRecorder, JobRecord, RunRecord, replay, snapshot
from asynciojobs.report import report_html

EVIL = "<script>alert('x')</script> & \"quoted\""


class Described(Job):
    """A job on a 'node' with output lines (the monitor protocol, as SshJob implements it)."""

    def __init__(self, node, seconds, **kwds):
        self.node = node
        super().__init__(sleeper, seconds, **kwds)

    def monitor_group(self):
        return self.node

    def monitor_details(self, tail=5):
        return {"tail": [f"line {i} {EVIL}" for i in range(8)][-tail:], "status": "exit 0"}


class Rows(HTMLParser):
    """The attributes of every element carrying data-job, by label."""

    def __init__(self):
        super().__init__()
        self.rows = {}
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if "data-job" in attrs:
            self.rows[attrs["data-job"]] = attrs


def parse(text):
    parser = Rows()
    parser.feed(text)
    return parser


def build():
    """a (1 s) -> broken (fails at 2 s) -> skipped; a nested scheduler; jobs on nodes with a
    window of 2 (one waits for a slot); a forever job, and a job requiring it (never run:
    the run ends on its timeout)."""
    sched = Scheduler(on_failed_requirement="skip", jobs_window=2, timeout=5)
    a = Job(sleeper, 1, label="a", scheduler=sched)
    broken = Job(boom, 1, "it broke", label="broken", scheduler=sched, required=a)
    Job(sleeper, 1, label="skipped one", scheduler=sched, required=broken)
    inner = Scheduler(
        Job(sleeper, 1, label="inner 1"), label="nested group", scheduler=sched, required=a
    )
    Job(sleeper, 1, label="inner 2", scheduler=inner, required=list(inner.jobs))
    Described("node1", 2, label=EVIL, scheduler=sched, required=a)
    Described("node2", 1, label="on node2", scheduler=sched, required=a)
    keep = Job(forever_loop, label="ticker", forever=True, scheduler=sched)
    Job(sleeper, 1, label="never", scheduler=sched, required=keep)
    return sched


def run_with_events(sched):
    recorder = EventRecorder(io.StringIO())
    sched.subscribe(recorder)
    fake_clock_run(sched.co_run())
    return recorder


def test_report_attributes_for_failure_skip_nested_and_nodes():
    sched = build()
    run_with_events(sched)
    text = report_html(snapshot(sched, title="test run"))
    rows = parse(text).rows
    assert set(rows) == {
        "a",
        "broken",
        "skipped one",
        "nested group",
        "inner 1",
        "inner 2",
        EVIL,
        "on node2",
        "ticker",
        "never",
    }
    outcome = {label: attrs["data-outcome"] for label, attrs in rows.items()}
    assert outcome == {
        "a": "done",
        "broken": "failed",
        "skipped one": "skipped",
        "nested group": "done",
        "inner 1": "done",
        "inner 2": "done",
        EVIL: "done",
        "on node2": "done",
        "ticker": "cancelled",
        "never": "not-run",
    }
    assert (rows["a"]["data-start"], rows["a"]["data-end"]) == ("0.000", "1.000")
    assert (rows["broken"]["data-start"], rows["broken"]["data-end"]) == ("1.000", "2.000")
    assert rows["broken"]["data-error"] == "ValueError: it broke"
    assert rows["skipped one"]["data-start"] == rows["skipped one"]["data-end"] == ""
    assert (rows["inner 2"]["data-start"], rows["inner 2"]["data-end"]) == ("2.000", "3.000")
    assert rows[EVIL]["data-node"] == "node1" and rows["on node2"]["data-node"] == "node2"
    assert "data-node" not in rows["a"] and "data-node" not in rows["inner 1"]
    assert rows[EVIL]["data-tail"].splitlines()[-1] == f"line 7 {EVIL}"
    assert len(rows[EVIL]["data-tail"].splitlines()) == 5
    for attrs in rows.values():
        if attrs["data-start"]:
            assert 0 <= float(attrs["data-start"]) <= float(attrs["data-end"]) <= 5
    # a window of 2: broken, nested group and on node2 became ready at 1 s together
    waits = [label for label, attrs in rows.items() if attrs.get("data-wait")]
    assert waits and all(float(rows[label]["data-wait"]) > 0 for label in waits)
    # what comes from jobs is escaped: no script but ours, the label shown as text
    assert parse(text).scripts == 1 and "<script>alert" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text


def test_report_from_events_matches_the_snapshot():
    sched = build()
    recorder = run_with_events(sched)
    lines = recorder.stream.getvalue().splitlines()
    assert (
        json.loads(lines[0])["kind"] == "run-started"
        and json.loads(lines[-1])["kind"] == "finished"
    )
    from_events = parse(report_html(replay(json.loads(line) for line in lines))).rows
    direct = parse(report_html(snapshot(sched))).rows
    keys = (
        "data-start",
        "data-end",
        "data-outcome",
        "data-node",
        "data-error",
        "data-tail",
        "data-wait",
    )
    assert {label: [attrs.get(k) for k in keys] for label, attrs in from_events.items()} == {
        label: [attrs.get(k) for k in keys] for label, attrs in direct.items()
    }


def test_report_during_the_run_shows_running_jobs(tmp_path):
    async def main():
        sched = Scheduler(Job(sleeper, 1, label="first"), Job(sleeper, 10, label="long"))
        task = asyncio.ensure_future(sched.co_run())
        await asyncio.sleep(2)
        written = sched.export_as_report(tmp_path / "during.html")
        await task
        return written

    rows = parse((tmp_path / "during.html").read_text()).rows if fake_clock_run(main()) else {}
    assert rows["first"]["data-outcome"] == "done"
    assert rows["long"]["data-outcome"] == "running"
    assert rows["long"]["data-start"] == "0.000" and rows["long"]["data-end"] == "2.000"


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz not installed")
def test_graph_is_inline_svg_coloured_by_outcome():
    sched = build()
    run_with_events(sched)
    text = report_html(snapshot(sched))
    graph = text[text.index('id="graph"') : text.index('id="summary"')]
    assert "<svg" in graph and "<?xml" not in text
    assert report_module._COLORS["failed"] in graph and report_module._COLORS["skipped"] in graph


def test_graph_without_dot_is_a_list_with_a_note(monkeypatch):
    monkeypatch.setattr(report_module.shutil, "which", lambda name: None)
    sched = build()
    run_with_events(sched)
    text = report_html(snapshot(sched))
    graph = text[text.index('id="graph"') : text.index('id="summary"')]
    assert "<svg" not in graph and "not installed" in graph
    assert "broken [failed]" in graph and "skipped one [skipped] ← broken" in graph


def test_summary_per_node_and_slowest():
    sched = build()
    run_with_events(sched)
    text = report_html(snapshot(sched))
    summary = text[text.index('id="summary"') :]
    assert "<td>node1</td><td class=n>1</td>" in summary
    assert "Slowest jobs" in summary


def test_report_size_for_a_thousand_jobs_on_a_hundred_nodes():
    """1,000 jobs on 100 nodes, 5 output lines of 100 characters each: well under 2 MB."""
    jobs = [
        JobRecord(
            id=i,
            label=f"job {i} on node{i % 100:03d}: make -j4 all",
            group=f"node{i % 100:03d}",
            requires=[i - 100] if i >= 100 else [],
            start=i * 0.01,
            end=i * 0.01 + 1.5,
            outcome="done",
            attempts=1,
            status="1 command(s) ok",
            tail=["x" * 100] * 5,
        )
        for i in range(1000)
    ]
    text = report_html(RunRecord(jobs, duration=12.0))
    assert len(text.encode()) < 2_000_000
    assert len(parse(text).rows) == 1000
