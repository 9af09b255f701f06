"""Reading listings printed by ``Scheduler.list()`` (a module, not conftest.py: test
directories each have a conftest, and ``from conftest import`` picks whichever came first)."""


def badges_of(listing: str) -> dict:
    """label -> badge text (the 7 characters after the id) of each line of a listing."""
    out = {}
    for line in listing.splitlines():
        if "`" not in line:
            continue
        label = line.split("`")[1]
        out[label] = line[3:10]
    return out
