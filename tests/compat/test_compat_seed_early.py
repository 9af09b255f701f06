"""Every example of the early asynciojobs README (the `Engine` era), as written there."""
# ruff: noqa: UP032  (the READMEs' code is kept as written there)

import asyncio
import os
import shutil
import time

import pytest

from asynciojobs import Engine, Job, Sequence
from asynciojobs.fakeclock import FakeClockLoop


async def mycoro(timeout):
    print("-> mycoro({})".format(timeout))
    await asyncio.sleep(timeout)
    print("<- mycoro({})".format(timeout))
    # return something easy to recognize: the number of milliseconds
    return 1000 * timeout


async def boom(n):
    await asyncio.sleep(n)
    raise Exception("boom after {}s".format(n))


def lines(capsys):
    return capsys.readouterr().out.splitlines()


def test_example_a_parallel(capsys):
    a1, a2, a3 = (
        Job(mycoro(0.1)),
        Job(mycoro(0.2)),
        Job(mycoro(0.25)),
    )
    ea = Engine(a1, a2, a3)
    assert ea.orchestrate() is True
    out = lines(capsys)
    assert sorted(out[:3]) == ["-> mycoro(0.1)", "-> mycoro(0.2)", "-> mycoro(0.25)"]
    assert out[3:] == ["<- mycoro(0.1)", "<- mycoro(0.2)", "<- mycoro(0.25)"]


def example_b():
    b1, b2, b3 = (Job(mycoro(0.1), label="b1"), Job(mycoro(0.2), label="b2"), Job(mycoro(0.25)))
    b2.requires(b1)
    return b1, b2, b3


def test_example_b_requirements_and_inspect_results(capsys):
    b1, b2, b3 = example_b()
    eb = Engine(b1, b2, b3)
    assert eb.orchestrate() is True
    out = lines(capsys)
    assert sorted(out[:2]) == ["-> mycoro(0.1)", "-> mycoro(0.25)"]
    assert out[2:] == ["<- mycoro(0.1)", "-> mycoro(0.2)", "<- mycoro(0.25)", "<- mycoro(0.2)"]
    for job in eb.jobs:
        print(job)
    printed = lines(capsys)
    # ids are given by list() (or a verbose run); before that they show as ??
    assert sorted(printed) == [
        "  ☉ ☓   <Job `NOLABEL`>[[ -> 250.0]]",
        "  ☉ ☓   <Job `b1`>[[ -> 100.0]]",
        "  ☉ ☓   <Job `b2`>[[ -> 200.0]] - requires {??}",
    ]
    print(b1.is_done())
    print(b3.result())
    assert lines(capsys) == ["True", "250.0"]


def test_example_b_prime_sequence(capsys):
    ebp = Engine(
        Sequence(Job(mycoro(0.1), label="bp1"), Job(mycoro(0.2), label="bp2")), Job(mycoro(0.25))
    )
    assert ebp.orchestrate() is True
    out = lines(capsys)
    assert sorted(out[:2]) == ["-> mycoro(0.1)", "-> mycoro(0.25)"]
    assert out[2:] == ["<- mycoro(0.1)", "-> mycoro(0.2)", "<- mycoro(0.25)", "<- mycoro(0.2)"]


def test_example_c_forever_monitor(capsys):
    from compat_listing import badges_of

    message_bus = asyncio.Queue()

    async def monitor_loop(bus):
        while True:
            message = await bus.get()
            print("BUS: {}".format(message))

    async def mycoro_bus(timeout, bus):
        await bus.put("-> mycoro({})".format(timeout))
        await asyncio.sleep(timeout)
        await bus.put("<- mycoro({})".format(timeout))
        # return something easy to recognize
        return 10 * timeout

    c1, c2, c3, c4 = (
        Job(mycoro_bus(0.2, message_bus), label="c1"),
        Job(mycoro_bus(0.4, message_bus), label="c2"),
        Job(mycoro_bus(0.3, message_bus), label="c3"),
        Job(monitor_loop(message_bus), forever=True, label="monitor"),
    )
    c3.requires(c1)
    ec = Engine(c1, c2, c3, c4)
    assert ec.orchestrate() is True
    out = lines(capsys)
    assert sorted(out[:2]) == ["BUS: -> mycoro(0.2)", "BUS: -> mycoro(0.4)"]
    assert out[2:] == [
        "BUS: <- mycoro(0.2)",
        "BUS: -> mycoro(0.3)",
        "BUS: <- mycoro(0.4)",
        "BUS: <- mycoro(0.3)",
    ]
    ec.list()
    listing = capsys.readouterr().out
    badges = badges_of(listing)
    assert badges == {"c1": "  ☉ ☓  ", "c2": "  ☉ ☓  ", "c3": "  ☉ ☓  ", "monitor": "  ☉ ↺ ∞"}
    c3_line = next(line for line in listing.splitlines() if "`c3`" in line)
    c1_id = next(line for line in listing.splitlines() if "`c1`" in line)[:2]
    assert c3_line.endswith(f"[[ -> 3.0]] - requires {{{c1_id}}}")


def test_example_d_global_timeout(capsys):
    async def forever():
        for i in range(100000):
            print("{}: forever {}".format(time.strftime("%H:%M:%S"), i))
            await asyncio.sleep(0.1)

    j = Job(forever(), forever=True)
    e = Engine(j)
    assert e.orchestrate(timeout=0.25) is False
    out = lines(capsys)
    assert [line.split(": ")[1] for line in out] == ["forever 0", "forever 1", "forever 2"]
    assert repr(j) == "  ☉ ↺ ∞ <Job `NOLABEL`>"


def chain_with_boom(critical):
    e1 = Job(mycoro(0.2))
    e2 = Job(boom(0.2), label="boom", **({"critical": True} if critical else {}))
    e3 = Job(mycoro(0.3))
    e2.requires(e1)
    e3.requires(e2)
    return e1, e2, e3


def test_example_e_non_critical(capsys):
    # by default everything is non critical
    e1, e2, e3 = chain_with_boom(False)
    e = Engine(e1, e2, e3)
    print("orch:", e.orchestrate())
    e.list()
    out = lines(capsys)
    assert out[:5] == [
        "-> mycoro(0.2)",
        "<- mycoro(0.2)",
        "-> mycoro(0.3)",
        "<- mycoro(0.3)",
        "orch: True",
    ]
    assert out[5:] == [
        "01   ☉ ☓   <Job `NOLABEL`>[[ -> 200.0]]",
        "02   ★ ☓   <Job `boom`>!! exception => Exception:boom after 0.2s!! - requires {01}",
        "03   ☉ ☓   <Job `NOLABEL`>[[ -> 300.0]] - requires {02}",
    ]


def test_example_f_critical(capsys, caplog):
    e1, e2, e3 = chain_with_boom(True)
    e = Engine(e1, e2, e3)
    print("orchestrate:", e.orchestrate())
    e.list()
    out = lines(capsys)
    assert out == [
        "-> mycoro(0.2)",
        "<- mycoro(0.2)",
        "orchestrate: False",
        "01   ☉ ☓   <Job `NOLABEL`>[[ -> 200.0]]",
        "02 ⚠ ★ ☓   <Job `boom`>!! CRIT. EXC. => Exception:boom after 0.2s!! - requires {01}",
        "03     ⚐   <Job `NOLABEL`> - requires {02}",
    ]
    assert "emergency exit" in caplog.text


def test_critical_set_at_engine_level(capsys):
    e1, e2, e3 = chain_with_boom(False)
    e = Engine(e1, e2, e3, critical=True)
    assert e.orchestrate() is False
    assert e2.is_critical() and e3.is_idle()
    e1, e2, e3 = chain_with_boom(False)
    e2.critical = False  # the job's own setting takes precedence
    assert Engine(e1, e2, e3, critical=True).orchestrate() is True


def test_orchestrate_with_a_loop_argument(capsys):
    loop = FakeClockLoop()
    try:
        e = Engine(Job(mycoro(0.1)))
        assert e.orchestrate(loop=loop) is True
        e = Engine(Job(mycoro(0.1)), Job(mycoro(5)))
        assert loop.run_until_complete(e.co_orchestrate(loop=loop, timeout=1)) is False
    finally:
        loop.close()


def test_sequence_list_without_running(capsys):
    e = Engine(
        Sequence(
            Job(mycoro(1), label="j1"), Job(mycoro(2), label="lab2"), Job(mycoro(3), label="tag3")
        )
    )
    e.list()
    assert lines(capsys) == [
        "01     ⚐   <Job `j1`>",
        "02     ⚐   <Job `lab2`> - requires {01}",
        "03     ⚐   <Job `tag3`> - requires {02}",
    ]


def test_rain_check_sanitize_and_dotfile(tmp_path, capsys):
    a = Job(mycoro(0.1), label="a")
    b = Job(mycoro(0.1), label="b", required=a)
    stray = Job(mycoro(0.1), label="stray")
    c = Job(mycoro(0.1), label="c", required=[b, stray])
    e = Engine(a, b, c)
    assert e.rain_check() is True
    assert e.sanitize() is False and c.required == {b}
    dotfile = tmp_path / "foo.dot"
    e.save_as_dotfile(str(dotfile))
    assert "digraph asynciojobs" in dotfile.read_text()
    e.store_as_dotfile(str(dotfile))
    if shutil.which("dot"):
        png = tmp_path / "foo.png"
        assert os.system(f"dot -Tpng {dotfile} -o {png}") == 0 and png.stat().st_size > 0
    b.requires(c)
    assert e.rain_check() is False


def test_co_shutdown_is_sent_to_all_jobs(capsys):
    closed = []

    class Closing(Job):
        async def co_shutdown(self):
            closed.append(self.label)

    e = Engine(Closing(mycoro(0.1), label="x"), Closing(mycoro(0.2), label="y"))
    assert e.orchestrate() is True
    assert sorted(closed) == ["x", "y"]


def test_todo_rerun_by_rebuilding(capsys):
    # the README's advice: build the engine in a function to run the scenario again
    def run():
        e = Engine(Job(mycoro(1)), Job(mycoro(2)))
        return e.orchestrate()

    assert run() and run()
    e = Engine(Job(mycoro(1)))
    assert e.orchestrate()
    with pytest.raises(RuntimeError, match="can run only once"):
        e.orchestrate()
