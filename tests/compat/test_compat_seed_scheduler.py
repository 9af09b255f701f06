"""Every example of the later asynciojobs README (the `Scheduler` era), as written there."""
# ruff: noqa: UP032  (the READMEs' code is kept as written there)

import asyncio
import os
import shutil
import time

from compat_listing import badges_of

from asynciojobs import Job, PrintJob, Scheduler, Sequence
from asynciojobs.fakeclock import FakeClockLoop


# just print a message when entering and exiting, and sleep in the middle
async def in_out(timeout):
    print("-> in_out({})".format(timeout))
    await asyncio.sleep(timeout)
    print("<- in_out({})".format(timeout))
    # return something easy to recognize: the number of milliseconds
    return 1000 * timeout


async def boom(n):
    await asyncio.sleep(n)
    raise Exception("boom after {}s".format(n))


def lines(capsys):
    return capsys.readouterr().out.splitlines()


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
    message_bus = asyncio.Queue()

    async def monitor_loop(bus):
        while True:
            message = await bus.get()
            print("BUS: {}".format(message))

    async def in_out_bus(timeout, bus):
        await bus.put("-> in_out({})".format(timeout))
        await asyncio.sleep(timeout)
        await bus.put("<- in_out({})".format(timeout))
        # return something easy to recognize
        return 10 * timeout

    c1, c2, c3, c4 = (
        Job(in_out_bus(0.2, message_bus), label="c1"),
        Job(in_out_bus(0.4, message_bus), label="c2"),
        Job(in_out_bus(0.3, message_bus), label="c3"),
        Job(monitor_loop(message_bus), forever=True, label="monitor"),
    )
    c3.requires(c1)
    sc = Scheduler(c1, c2, c3, c4)
    assert sc.orchestrate() is True
    out = lines(capsys)
    assert sorted(out[:2]) == ["BUS: -> in_out(0.2)", "BUS: -> in_out(0.4)"]
    assert out[2:] == [
        "BUS: <- in_out(0.2)",
        "BUS: -> in_out(0.3)",
        "BUS: <- in_out(0.4)",
        "BUS: <- in_out(0.3)",
    ]
    sc.list()
    assert badges_of(capsys.readouterr().out) == {
        "c1": "  ☉ ☓  ",
        "c2": "  ☉ ☓  ",
        "c3": "  ☉ ☓  ",
        "monitor": "  ☉ ↺ ∞",
    }
    assert c4.raised_exception() is None and not c4.is_done()


def test_example_d_timeout(capsys, caplog):
    async def forever():
        for i in range(100000):
            print("{}: forever {}".format(time.strftime("%H:%M:%S"), i))
            await asyncio.sleep(0.1)

    j = Job(forever(), forever=True)
    sd = Scheduler(j)
    assert sd.orchestrate(timeout=0.25) is False
    assert [line.split(": ")[1] for line in lines(capsys)] == [
        "forever 0",
        "forever 1",
        "forever 2",
    ]
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
        "01   ☉ ☓   <Job `NOLABEL`>[[ -> 200.0]]",
        "02   ★ ☓   <Job `boom`>!! exception => Exception:boom after 0.2s!! - requires {01}",
        "03   ☉ ☓   <Job `NOLABEL`>[[ -> 300.0]] - requires {02}",
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
        "01   ☉ ☓   <Job `NOLABEL`>[[ -> 200.0]]",
        "02 ⚠ ★ ☓   <Job `boom`>!! CRIT. EXC. => Exception:boom after 0.2s!! - requires {01}",
        "03     ⚐   <Job `NOLABEL`> - requires {02}",
    ]
    assert "emergency exit upon exception in critical job" in caplog.text


def test_jobs_window(capsys):
    s = Scheduler()
    # each of these jobs takes 0.5 second
    for i in range(1, 9):
        PrintJob("{}-th job".format(i), sleep=0.5, scheduler=s)

    async def timed():
        loop = asyncio.get_running_loop()
        beg = loop.time()
        assert await s.co_orchestrate(jobs_window=4) is True
        return loop.time() - beg

    loop = FakeClockLoop()
    try:
        duration = loop.run_until_complete(timed())
    finally:
        loop.close()
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


def test_legacy_names_and_hooks(capsys):
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
    loop = FakeClockLoop()
    try:
        assert e.orchestrate(loop) is True  # the loop as first positional argument
    finally:
        loop.close()
    e.list()
    assert "<OldStyle `old label`>[[ -> 1]]" in capsys.readouterr().out
