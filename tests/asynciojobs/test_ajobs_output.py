"""list / list_safe / debrief / stats / dot output, badges and their ASCII fallback."""

import io
import shutil
import sys

import pytest
from ajobs_helpers import boom, run_timed, sleeper

from asynciojobs import GraphvizMissingError, Job, PrintJob, Scheduler, Sequence, Watch, badges
from asynciojobs.fakeclock import fake_clock_run


class Ascii(io.StringIO):
    encoding = "ascii"


def test_ascii_fallback_when_stdout_cannot_encode(monkeypatch):
    job = Job(boom, 1, label="b", critical=True, forever=True)
    run_timed(Scheduler(job, timeout=5))
    buffer = Ascii()
    monkeypatch.setattr(sys, "stdout", buffer)
    Scheduler(job).list()
    line = buffer.getvalue().splitlines()[0]
    assert line.startswith("01 ! :( x 8 <Job `b`>")
    line.encode("ascii")
    assert badges.badge(job, unicode=True) == "⚠ ★ ☓ ∞"
    assert badges.badge(Job(sleeper, 1), unicode=False) == "     >  "


def test_nested_listing(capsys):
    inner = Scheduler(
        Sequence(Job(sleeper, 1, label="in1"), Job(sleeper, 1, label="in2")), label="inner"
    )
    top = Scheduler(Sequence(Job(sleeper, 1, label="first"), inner, Job(sleeper, 1, label="last")))
    top.list()
    assert capsys.readouterr().out.splitlines() == [
        "01     ⚐   <Job `first`>",
        "02     ⚐   <Scheduler `inner`> - requires {01} -> entries={03}",
        "03     ⚐   > <Job `in1`>",
        "04     ⚐   > <Job `in2`> - requires {03}",
        "02 --end-- < <Scheduler `inner`> exits={04}",
        "05     ⚐   <Job `last`> - requires {02}",
    ]


def test_list_details_and_printjob(capsys):
    s = Scheduler(PrintJob("hello", "world", sleep=2, label="p"))
    s.list(details=True)
    assert capsys.readouterr().out.splitlines() == [
        "01     ⚐   <PrintJob `p`>",
        "[+ sleep 2s] msg= hello...",
        "===== 1 job(s): 0 done (0 failed, 0 critical), 0 running, 0 scheduled, 1 idle",
    ]
    ok, elapsed = run_timed(s)
    assert ok and elapsed == 2
    assert capsys.readouterr().out.splitlines() == ["hello", "world", "Sleeping for 2s"]


def test_list_safe_works_on_cycles(capsys):
    a, b = Job(sleeper, 1, label="a"), Job(sleeper, 1, label="b")
    a.requires(b)
    b.requires(a)
    inner = Scheduler(Job(sleeper, 1, label="c"), label="inner")
    s = Scheduler(a, b, inner)
    s.list_safe()
    assert capsys.readouterr().out.splitlines() == [
        "    ⚐   .1 <Job `a`> - requires {.2}",
        "    ⚐   .2 <Job `b`> - requires {.1}",
        "    ⚐   .3 <Scheduler `inner`>",
        "    ⚐   3.1 <Job `c`>",
        "--end-- .3",
    ]


def test_debrief_prints_non_critical_stacks_and_statistics(capsys):
    s = Scheduler(Job(boom, 1, "first failure", label="soft"), Job(sleeper, 2, label="ok"))
    assert run_timed(s)[0]
    s.debrief()
    out = capsys.readouterr().out
    assert out.startswith("----- FINE\n")
    assert "1 job(s) with an exception, including 0 critical" in out
    assert (
        "BEG stack for non-critical job 01 <Job `soft`>" in out
        or "BEG stack for non-critical job 02 <Job `soft`>" in out
    )
    assert "ValueError: first failure" in out and "in boom" in out
    assert "2 job(s): 2 done (1 failed, 0 critical)" in out and "span 2.000s" in out


def test_stats_and_repr():
    s = Scheduler(Job(sleeper, 1), Job(sleeper, 9), Job(sleeper, 1, required=[]), timeout=5)
    assert s.stats() == "0D + 0R + 3I = 3"
    run_timed(s)
    assert s.stats() == "2D + 1R + 0I = 3"
    assert repr(s) == "Scheduler with 2 done + 1 ongoing + 0 idle = 3 job(s)"


def test_verbose_feedback(capsys):
    watch = Watch(show_elapsed=True)
    s = Scheduler(Job(sleeper, 1, label="v"), verbose=True, watch=watch)
    run_timed(s)
    out = capsys.readouterr().out.splitlines()
    assert "SCHEDULER: entering co_run with 1 job(s)" in out[0]
    assert "STARTING: 01" in out[1] and "<Job `v`>" in out[1]
    assert "DONE" in out[2] and "[[ -> 1]]" in out[2]
    assert "SCHEDULER: FINE" in out[3]
    assert len(out[0].split()[0]) == 7  # SSS.MMM


def nested_for_dot():
    first = Job(sleeper, 1, label="first", critical=True)
    inner = Scheduler(
        Sequence(Job(sleeper, 1, label="in1"), Job(sleeper, 1, label="in2")),
        label="inner",
        required=first,
    )
    last = Job(sleeper, 1, label='la"st\nline', required=inner, forever=True)
    return Scheduler(first, inner, last)


def test_dot_format_content():
    dot = nested_for_dot().dot_format()
    assert dot.startswith("digraph asynciojobs{\ncompound=true;")
    assert "subgraph cluster_02 {" in dot and 'label="02: inner"' in dot
    assert '"01" [label="01: first" shape=box style="rounded" color=red penwidth=2];' in dot
    assert '"01" -> "03" [lhead=cluster_02];' in dot
    assert '"04" -> "05" [ltail=cluster_02];' in dot
    assert '"03" -> "04";' in dot
    assert 'label="05: la\\"st\\nline"' in dot and 'style="rounded,dashed"' in dot


def test_export_png_and_svg(tmp_path):
    if not shutil.which("dot"):
        pytest.skip("graphviz `dot` not installed")
    s = nested_for_dot()
    svg = s.export_as_svgfile(str(tmp_path / "g"))
    assert svg == str(tmp_path / "g.svg") and "<svg" in (tmp_path / "g.svg").read_text()
    png = s.export_as_pngfile(str(tmp_path / "g.png"))
    assert png == str(tmp_path / "g.png") and (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "g.dot").exists()


def test_missing_graphviz_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(GraphvizMissingError, match="install graphviz"):
        nested_for_dot().export_as_pngfile(str(tmp_path / "g"))


def test_graph_for_notebooks():
    try:
        import graphviz  # noqa: F401
    except ImportError:
        with pytest.raises(GraphvizMissingError, match="pip install graphviz"):
            nested_for_dot().graph()
    else:  # pragma: no cover - depends on the environment
        assert "digraph" in nested_for_dot().graph().source


def test_watch(capsys):
    w = Watch("start")
    assert capsys.readouterr().out.endswith("start\n")
    assert 0 <= w.seconds() < 5 and len(w.elapsed()) == 7
    w.print_elapsed()
    Watch.print_wall_clock()
    out = capsys.readouterr().out
    assert out.count(":") == 2 and out.endswith(" ")


def test_labels_hooks_of_old_subclasses():
    class Old(Job):
        def default_label(self):
            return "old default"

        def dot_label(self):
            return "old\ndot"

    job = Old(sleeper, 1)
    assert job.display_label() == "old default" and job.graph_label() == "old\ndot"


def test_cancelled_non_forever_jobs_are_marked(capsys):
    slow = Job(sleeper, 10, label="slow")
    s = Scheduler(slow, timeout=1)
    assert not run_timed(s)[0]
    s.list()
    assert capsys.readouterr().out.strip() == "01   ☉ ↺   <Job `slow`> (cancelled)"
    assert s.statistics().cancelled == 1
    fake_clock_run(s.co_shutdown())  # once per run: already done


class Detailed(Job):
    """A job whose graph label says more than its one-line text label (as SSH jobs do)."""

    def graph_label(self) -> str:
        return "root@node1\necho hello"


def test_dot_label_keeps_the_graph_details_of_a_labelled_job():
    plain = Detailed(sleeper, 1)
    labelled = Detailed(sleeper, 1, label="greet", required=plain)
    dot = Scheduler(plain, labelled).dot_format()
    assert 'label="01: root@node1\\necho hello"' in dot
    assert 'label="02: greet\\nroot@node1\\necho hello"' in dot
