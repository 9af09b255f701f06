"""Folding for humans: host lists into range expressions, identical outputs into one block.

``fold_hosts(["fit01", "fit02", "fit03", "fit09"])`` gives ``"fit[01-03,09]"``, which the target
grammar (:mod:`sshjobs.targets`) expands back to the same names, so a folded list can be pasted
as a ``-t`` value. ``gather`` groups hosts whose outputs (and exit statuses) are identical, the
way ``clush -b`` and ``dshbak -c`` do, so that 300 identical answers print once.

Pure functions, no terminal, no network.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping
from typing import TypeVar

__all__ = ["fold_hosts", "gather"]

_LAST_NUMBER = re.compile(r"^(.*?)(\d+)(\D*)$")

Key = TypeVar("Key", bound=Hashable)


def _ranges(numbers: list[int], width: int) -> str:
    """``[1, 2, 3, 9]`` with width 2 → ``01-03,09``."""
    pieces: list[str] = []
    numbers = sorted(set(numbers))
    start = previous = numbers[0]
    upcoming: list[int | None] = [*numbers[1:], None]
    for number in upcoming:
        if number is not None and number == previous + 1:
            previous = number
            continue
        low, high = str(start).zfill(width), str(previous).zfill(width)
        pieces.append(low if start == previous else f"{low}-{high}")
        if number is not None:
            start = previous = number
    return ",".join(pieces)


def fold_hosts(names: Iterable[str]) -> str:
    """Fold host names into a comma-separated list of range expressions.

    Names are grouped by what surrounds their last number; a zero-padded number (``fit09``) only
    folds with numbers of the same width, ``fit10`` joins ``fit09`` (same width) or ``fit9``
    (unpadded). Groups come out in order of their first name; a group of one stays unbracketed.
    """
    order: list[tuple[str | None, str]] = []  # (None, name) for a name kept as-is
    # (prefix, suffix) -> {width: [numbers]}; width 0 means "no padding"
    groups: dict[tuple[str, str], dict[int, list[int]]] = {}
    entries: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            continue
        seen.add(name)
        match = _LAST_NUMBER.match(name)
        if not match or "[" in name or "]" in name:
            order.append((None, name))
            continue
        prefix, digits, suffix = match.groups()
        entries.append((prefix, digits, suffix))
        if (prefix, suffix) not in groups:
            groups[(prefix, suffix)] = {}
            order.append((prefix, suffix))
        if digits.startswith("0") and len(digits) > 1:
            groups[(prefix, suffix)].setdefault(len(digits), [])
    for prefix, digits, suffix in entries:
        widths = groups[(prefix, suffix)]
        padded = digits.startswith("0") and len(digits) > 1
        width = len(digits) if padded or len(digits) in widths else 0
        widths.setdefault(width, []).append(int(digits))
    out: list[str] = []
    for prefix, suffix in order:
        if prefix is None:
            out.append(suffix)
            continue
        for width, numbers in sorted(groups[(prefix, suffix)].items()):
            if not numbers:
                continue
            body = _ranges(numbers, width)
            if "," in body or "-" in body:
                out.append(f"{prefix}[{body}]{suffix}")
            else:
                out.append(f"{prefix}{body}{suffix}")
    return ",".join(_fold_outer(out))


#: a number followed by something holding a bracket: ``r1`` + ``n[1-2]`` in ``r1n[1-2]``
_OUTER_NUMBER = re.compile(r"^([^\[\]]*?)(\d+)([^\d\[\]]*\[.*)$")


def _fold_outer(items: list[str]) -> list[str]:
    """Fold again on an earlier number of names already folded on their last one, so that
    ``r1n[1-2],r2n[1-2]`` becomes ``r[1-2]n[1-2]`` (repeated: any number of axes)."""
    while True:
        order: list[tuple[str, str, int] | str] = []
        groups: dict[tuple[str, str, int], list[int]] = {}
        for item in items:
            match = _OUTER_NUMBER.match(item)
            if not match:
                order.append(item)
                continue
            prefix, digits, suffix = match.groups()
            width = len(digits) if digits.startswith("0") and len(digits) > 1 else 0
            key = (prefix, suffix, width)
            if key not in groups:
                groups[key] = []
                order.append(key)
            groups[key].append(int(digits))
        if all(len(numbers) == 1 for numbers in groups.values()):
            return items
        folded: list[str] = []
        for entry in order:
            if isinstance(entry, str):
                folded.append(entry)
                continue
            prefix, suffix, width = entry
            body = _ranges(groups[entry], width)
            several = "," in body or "-" in body
            folded.append(f"{prefix}[{body}]{suffix}" if several else f"{prefix}{body}{suffix}")
        items = folded


def gather(results: Mapping[str, Key]) -> list[tuple[list[str], Key]]:
    """Group hosts by identical result (any hashable: output bytes, (status, output)...).

    Returns ``(hosts, result)`` pairs, hosts in the mapping's order, groups ordered by their
    first host. Use :func:`fold_hosts` on the hosts for a header.
    """
    groups: dict[Key, list[str]] = {}
    for host, result in results.items():
        groups.setdefault(result, []).append(host)
    return [(hosts, result) for result, hosts in groups.items()]
