"""A non-critical SshJob whose commands failed keeps its exit status as result (apssh), but
list() / repr_result() show the failure instead of passing it off as a success."""
# ruff: noqa: F811 (test parameters are the fixtures imported from sshjobs_helpers)

from __future__ import annotations

from sshjobs_helpers import collect  # noqa: F401 (fixture)

from asynciojobs import Scheduler
from sshjobs import LocalNode, Run, SshJob


def test_non_critical_failures_are_visible_in_list(collect, capsys):
    node = LocalNode(formatter=collect)
    ok = SshJob(node, command=Run("exit 2", allowed_exits=[2]), label="allowed")
    one = SshJob(node, critical=False, commands=[Run("echo a"), Run("exit 3")])
    two = SshJob(node, critical=False, commands=[Run("false"), Run("true"), Run("kill -TERM $$")])
    slow = SshJob(node, critical=False, command=Run("sleep 5", timeout=0.2))
    scheduler = Scheduler(ok, one, two, slow)
    assert scheduler.run()
    # results unchanged (apssh semantics): the last failing exit status, no exception
    assert one.result() == 3 and one.raised_exception() is None
    assert two.result() == "TERM" and ok.result() == 0
    assert ok.repr_result() == "[[ -> 0]]"
    assert one.repr_result() == "[[ -> 3]] !! exit 3 on LOCALNODE: exit 3"
    assert two.repr_result() == (
        "[[ -> TERM]] !! 2 commands failed, last: signal TERM on LOCALNODE: kill -TERM $$"
    )
    assert slow.repr_result().endswith("!! timeout on LOCALNODE: sleep 5")
    capsys.readouterr()
    scheduler.list()
    listing = capsys.readouterr().out
    assert "[[ -> 3]] !! exit 3 on LOCALNODE: exit 3" in listing
    assert "[[ -> 0]]" in listing and listing.count("!!") == 3


def test_long_labels_are_cut(collect):
    node = LocalNode(formatter=collect)
    job = SshJob(node, critical=False, command=Run("false # " + "x" * 100))
    assert Scheduler(job).run()
    note = job.repr_result().split("!! ", 1)[1]
    assert note.startswith("exit 1 on LOCALNODE: false # xxx") and note.endswith("...")
    assert len(note) < 70


def test_a_critical_failure_shows_as_an_exception_only(collect):
    node = LocalNode(formatter=collect)
    job = SshJob(node, command=Run("exit 4"))
    assert not Scheduler(job).run()
    assert job.repr_result().startswith("!! CRIT. EXC. => CommandFailedError:")
    assert job.repr_result().count("!!") == 2
