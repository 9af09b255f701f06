"""Every example of the later asynciojobs README (the `Scheduler` era), as written there."""
# ruff: noqa: UP032  (the READMEs' code is kept as written there)

import asyncio
import os
import shutil

from seed_readme import (
    EXAMPLE_C_BADGES,
    EXAMPLE_E_LISTING,
    EXAMPLE_F_LISTING,
    announcing,
    badges_of,
    boom,
    check_example_c_output,
    check_example_d_output,
    example_c_jobs,
    forever_printer,
    lines,
)

from asynciojobs import Job, PrintJob, Scheduler, Sequence

# just print a message when entering and exiting, and sleep in the middle
in_out = announcing("in_out")


def test_example_a_running_in_parallel_and_results(capsys):
    a1, a2, a3 = (
        Job(in_out(0.1)),
        Job(in_out(0.2)),
        Job(in_out(0.25)),
    )
    sa = Scheduler(a1, a2, a3)
    assert sa.orchestrate() is True
    out = lines(capsys)
    assert sorted(out[:3]) == ["-> in_out(0.1)", "-> in_out(0.2)", "-> in_out(0.25)"]
    assert out[3:] == ["<- in_out(0.1)", "<- in_out(0.2)", "<- in_out(0.25)"]
    # retrieving individual results
    assert [a1.result(), a2.result(), a3.result()] == [100.0, 200.0, 250.0]


def test_example_b_requirements_and_list(capsys):
    b1, b2, b3 = (Job(in_out(0.1), label="b1"), Job(in_out(0.2), label="b2"), Job(in_out(0.25)))
    b2.requires(b1)
    # with this setup we are certain that b3 ends in the middle of b2
    sb = Scheduler(b1, b2, b3)
    assert sb.orchestrate() is True
    out = lines(capsys)
    assert sorted(out[:2]) == ["-> in_out(0.1)", "-> in_out(0.25)"]
    assert out[2:] == ["<- in_out(0.1)", "-> in_out(0.2)", "<- in_out(0.25)", "<- in_out(0.2)"]
    # inspecting: b1 completed, b3 raised no exception
    assert b1.is_done() and not b3.raised_exception()
    sb.list()
    listing = lines(capsys)
    b1_id = next(line for line in listing if "`b1`" in line)[:2]
    assert sorted(line[3:] for line in listing) == [
        "  ☉ ☓   <Job `NOLABEL`>[[ -> 250.0]]",
        "  ☉ ☓   <Job `b1`>[[ -> 100.0]]",
        f"  ☉ ☓   <Job `b2`>[[ -> 200.0]] - requires {{{b1_id}}}",
    ]


def test_example_b_prime_sequence(capsys):
    sb2 = Scheduler(
        Sequence(Job(in_out(0.1), label="bp1"), Job(in_out(0.2), label="bp2")), Job(in_out(0.25))
    )
    assert sb2.orchestrate() is True
    out = lines(capsys)
    assert sorted(out[:2]) == ["-> in_out(0.1)", "-> in_out(0.25)"]
    assert out[2:] == ["<- in_out(0.1)", "-> in_out(0.2)", "<- in_out(0.25)", "<- in_out(0.2)"]


def test_example_c_forever(capsys):
    c1, c2, c3, c4 = example_c_jobs("in_out")
    sc = Scheduler(c1, c2, c3, c4)
    assert sc.orchestrate() is True
    check_example_c_output("in_out", lines(capsys))
    sc.list()
    assert badges_of(capsys.readouterr().out) == EXAMPLE_C_BADGES
    assert c4.raised_exception() is None and not c4.is_done()


def test_example_d_timeout(capsys, caplog):
    j = Job(forever_printer(), forever=True)
    sd = Scheduler(j)
    assert sd.orchestrate(timeout=0.25) is False
    check_example_d_output(lines(capsys))
    assert "TIMEOUT occurred" in caplog.text
    assert repr(j) == "  ☉ ↺ ∞ <Job `NOLABEL`>"


def test_example_e_non_critical(capsys):
    # by default everything is non critical
    e1 = Job(in_out(0.2))
    e2 = Job(boom(0.2), label="boom")
    e3 = Job(in_out(0.3))
    se = Scheduler(Sequence(e1, e2, e3))
    print("orch:", se.orchestrate())
    se.list()
    assert lines(capsys) == [
        "-> in_out(0.2)",
        "<- in_out(0.2)",
        "-> in_out(0.3)",
        "<- in_out(0.3)",
        "orch: True",
        *EXAMPLE_E_LISTING,
    ]


def test_example_f_critical(capsys, caplog):
    f1 = Job(in_out(0.2))
    f2 = Job(boom(0.2), label="boom", critical=True)
    f3 = Job(in_out(0.3))
    sf = Scheduler(Sequence(f1, f2, f3))
    print("orchestrate:", sf.orchestrate())
    sf.list()
    assert lines(capsys) == [
        "-> in_out(0.2)",
        "<- in_out(0.2)",
        "orchestrate: False",
        *EXAMPLE_F_LISTING,
    ]
    assert "emergency exit upon exception in critical job" in caplog.text


def test_jobs_window(capsys, fake_loop):
    s = Scheduler()
    # each of these jobs takes 0.5 second
    for i in range(1, 9):
        PrintJob("{}-th job".format(i), sleep=0.5, scheduler=s)

    async def timed():
        loop = asyncio.get_running_loop()
        beg = loop.time()
        assert await s.co_orchestrate(jobs_window=4) is True
        return loop.time() - beg

    duration = fake_loop.run_until_complete(timed())
    # expect around 1 second
    assert duration == 1.0
    out = lines(capsys)
    assert sorted(line for line in out if "th job" in line) == [f"{i}-th job" for i in range(1, 9)]
    assert out.count("Sleeping for 0.5s") == 8
    # the window as an orchestrate() argument, as in the README
    s2 = Scheduler(*[PrintJob(f"{i}", sleep=0.5) for i in range(8)])
    assert s2.orchestrate(jobs_window=4) is True
    assert s2.jobs_window is None  # an argument of that run only


def test_all_badge_combinations_render(capsys):
    # the README's table: every (critical, forever, status, boom) combination
    from asynciojobs.job import DONE, IDLE, RUNNING, SCHEDULED

    class J(Job):
        pass

    states = {"idle": IDLE, "scheduled": SCHEDULED, "running": RUNNING, "done": DONE}
    expected = {}
    jobs = []
    for status, state in states.items():
        for boom_ in (False, True):
            if boom_ and state != DONE:
                continue
            for critical in (True, False):
                for forever in (True, False):
                    label = f"forever={forever} crit.={critical} status={status} boom={boom_}"
                    job = J(asyncio.sleep, 0, label=label, critical=critical, forever=forever)
                    job._aj_state = state
                    if boom_:
                        job._aj_exc = Exception("True")
                    elif state == DONE:
                        job._aj_result = 0
                    jobs.append(job)
                    crit = "⚠" if critical else " "
                    outcome = ("★" if boom_ else "☉") if state >= RUNNING else " "
                    mark = {"idle": "⚐", "scheduled": "⚑", "running": "↺", "done": "☓"}[status]
                    expected[label] = f"{crit} {outcome} {mark} {'∞' if forever else ' '}"
    s = Scheduler(Sequence(*jobs))
    s.list()
    assert badges_of(capsys.readouterr().out) == expected
    assert len(expected) == 20


def test_rain_check_sanitize_and_dotfile(tmp_path):
    a = Job(in_out(0.1), label="a")
    b = Job(in_out(0.1), label="b", required=a)
    s = Scheduler(a, b)
    assert s.rain_check() is True and s.sanitize() is True
    dot = tmp_path / "foo.dot"
    assert s.export_as_dotfile(str(dot)) == f"(Over)wrote {dot}"
    if shutil.which("dot"):
        png = tmp_path / "foo.png"
        assert os.system(f"dot -Tpng {dot} -o {png}") == 0 and png.stat().st_size > 0


def test_debrief_after_failure(capsys):
    s = Scheduler(
        Sequence(Job(in_out(0.1)), Job(boom(0.1), label="crit", critical=True)),
        Job(boom(0.05), label="soft"),
    )
    assert s.orchestrate() is False
    capsys.readouterr()
    s.debrief()
    out = capsys.readouterr().out
    assert out.startswith("----- a CRITICAL job has raised an exception")
    assert "2 job(s) with an exception, including 1 critical" in out
    assert "BEG stack for CRITICAL JOB" in out and "BEG stack for non-critical job" in out
    assert "boom after 0.05s" in out


def test_legacy_names_and_hooks(capsys, fake_loop):
    from asynciojobs import AbstractJob, Engine, SchedulerJob

    class OldStyle(AbstractJob):
        def label(self):  # the pre-0.7 hook name
            return "old label"

        async def co_run(self):
            return 1

    assert Engine is SchedulerJob is Scheduler
    a = OldStyle()
    b = Job(in_out(0.1), label="b", required=a)
    e = Engine(b, a)
    assert [j.display_label() for j in e.scan_in_order()] == ["old label", "b"]
    assert e.orchestrate(fake_loop) is True  # the loop as first positional argument
    e.list()
    assert "<OldStyle `old label`>[[ -> 1]]" in capsys.readouterr().out
