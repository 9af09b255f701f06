"""Nodes of a scheduler: closing their connections, drawing who is the gateway of whom (apssh).

With sshjobs, connections already close on their own when the scheduler that used them shuts
down; :func:`co_close_ssh_in_scheduler` remains for old scripts and for jobs built with
``keep_connection=True``. It closes the remotest nodes first, each level in parallel, then
their gateways.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import Any

__all__ = [
    "close_ssh_in_scheduler",
    "co_close_ssh_in_scheduler",
    "nodes_in",
    "topology_as_dotfile",
    "topology_as_pngfile",
    "topology_dot",
    "topology_graph",
]


def nodes_in(scheduler: Any, manage_gateways: bool = True) -> list[Any]:
    """Every SshNode used by the SshJobs of ``scheduler`` (nested ones included), plus their
    gateways (transitively) when ``manage_gateways``."""
    from .job import SshJob
    from .node import SshNode

    found: dict[int, Any] = {}
    for job in scheduler.iterate_jobs():
        if isinstance(job, SshJob) and isinstance(job.node, SshNode):
            node: Any = job.node
            while node is not None and id(node) not in found:
                found[id(node)] = node
                node = node.gateway if manage_gateways else None
    return list(found.values())


async def co_close_ssh_in_scheduler(scheduler: Any, manage_gateways: bool = True) -> None:
    """Close the connections of the scheduler's nodes, remotest first, gateways last."""
    nodes = nodes_in(scheduler, manage_gateways)
    for distance in sorted({n.distance() for n in nodes}, reverse=True):
        await asyncio.gather(*(n.close() for n in nodes if n.distance() == distance))


def close_ssh_in_scheduler(scheduler: Any, manage_gateways: bool = True) -> None:
    """Synchronous :func:`co_close_ssh_in_scheduler` (outside any running event loop)."""
    asyncio.run(co_close_ssh_in_scheduler(scheduler, manage_gateways))


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def topology_dot(scheduler: Any) -> str:
    """DOT text of the graph "x is the gateway to y", rooted at the local node."""
    nodes = nodes_in(scheduler)
    lines = ["digraph topology {", "  rankdir=LR;", '  "LOCALNODE" [label="Local Node"];']
    for node in nodes:
        name = _quote(str(node))
        lines.append(f"  {name} [label={_quote(node.endpoint())}];")
        origin = _quote(str(node.gateway)) if node.gateway is not None else '"LOCALNODE"'
        lines.append(f"  {origin} -> {name};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def topology_graph(scheduler: Any) -> Any:
    """A ``graphviz.Source`` of :func:`topology_dot` (needs the graphviz package)."""
    import graphviz  # optional, for notebooks

    return graphviz.Source(topology_dot(scheduler))


def topology_as_dotfile(scheduler: Any, filename: str | os.PathLike[str]) -> str:
    """Write :func:`topology_dot` into ``filename``."""
    with open(filename, "w", encoding="utf-8") as handle:
        handle.write(topology_dot(scheduler))
    return f"(Over)wrote {filename}"


def topology_as_pngfile(scheduler: Any, filename: str | os.PathLike[str]) -> str:
    """Write ``<filename>.dot`` and render ``<filename>.png`` with graphviz's ``dot``."""
    base = str(filename).removesuffix(".png")
    topology_as_dotfile(scheduler, base + ".dot")
    try:
        subprocess.run(
            ["dot", "-Tpng", base + ".dot", "-o", base + ".png"], check=True, capture_output=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RuntimeError(f"cannot render {base}.png with graphviz 'dot': {exc}") from exc
    return base + ".png"
