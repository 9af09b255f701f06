"""Host-list folding and identical-output gathering."""

import pytest

from sshjobs.gather import fold_hosts, gather
from sshjobs.targets import expand_ranges, split_specs


@pytest.mark.parametrize(
    ("names", "folded"),
    [
        (["fit01", "fit02", "fit03", "fit04", "fit05", "fit09"], "fit[01-05,09]"),
        (["fit09", "fit10", "fit11"], "fit[09-11]"),
        (["fit9", "fit10", "fit11"], "fit[9-11]"),
        (["fit7"], "fit7"),
        (["gw", "fit02", "fit01"], "gw,fit[01-02]"),
        (["r1n1", "r1n2", "r2n1"], "r1n[1-2],r2n1"),
        (["127.0.0.2", "127.0.0.3", "127.0.0.5"], "127.0.0.[2-3,5]"),
        (["a1.lab", "a2.lab", "b1.lab"], "a[1-2].lab,b1.lab"),
        (["fit1", "fit01", "fit2"], "fit[1-2],fit01"),
        (["x", "x"], "x"),
        ([], ""),
    ],
)
def test_fold_hosts(names, folded):
    assert fold_hosts(names) == folded


@pytest.mark.parametrize(
    "names",
    [
        ["fit01", "fit02", "fit03", "fit05", "fit10", "fit11", "gw", "n7", "n8", "n10"],
        ["h:2201", "h:2202", "k.lab", "root@x1", "root@x2"],
        ["a1b1", "a1b2", "a2b1", "z"],
    ],
)
def test_folded_lists_expand_back(names):
    folded = fold_hosts(names)
    expanded = [name for token in split_specs(folded) for name in expand_ranges(token)]
    assert sorted(expanded) == sorted(names)


def test_gather_groups_identical_results_in_order():
    results = {"fit01": b"A", "fit02": b"B", "fit03": b"A", "gw": b"A"}
    assert gather(results) == [(["fit01", "fit03", "gw"], b"A"), (["fit02"], b"B")]
    assert gather({}) == []
