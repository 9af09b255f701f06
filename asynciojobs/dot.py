"""Graphviz output of a scheduler: DOT text, .dot files, png/svg through the ``dot`` program.

Nested schedulers become clusters; an edge to or from a nested scheduler is drawn to one of
its inner jobs with ``lhead``/``ltail`` so that it ends at the cluster's border.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from . import graph
from .badges import job_label
from .errors import GraphvizMissingError
from .graph import is_scheduler


def _quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _style(job: Any) -> str:
    style = job.dot_style()
    return " ".join(
        f'{key}="{value}"' if key == "style" else f"{key}={value}" for key, value in style.items()
    )


def _anchor(job: Any, *, entry: bool) -> Any:
    """A leaf job standing for ``job`` in edges (itself unless it is a scheduler)."""
    while is_scheduler(job):
        ends = job.entry_jobs() if entry else job.exit_jobs(discard_forever=False)
        if not ends:
            return job  # empty cluster: drawn as a point node
        job = ends[len(ends) // 2]
    return job


def graph_text(job: Any) -> str:
    """What a job's graph node says: its label if set, followed by what ``graph_label()`` adds
    beyond the one-line ``text_label()`` (an SSH job's node and commands, say), so that a
    label never hides those details."""
    rich: str = job.graph_label()
    if not job.label:
        return rich
    label = job_label(job)
    return label if rich == job.text_label() or rich == label else f"{label}\n{rich}"


def dot_format(scheduler: Any) -> str:
    """The DOT description of ``scheduler`` (ids from a fresh numbering)."""
    from .render import number_jobs

    number_jobs(scheduler)
    lines = ["digraph asynciojobs{", "compound=true;", "graph [];"]

    def node_name(job: Any) -> str:
        return _quote(job.repr_id())

    def walk(sched: Any, indent: str) -> None:
        for job in sched.topological_order():
            label = f"{job.repr_id()}: {graph_text(job)}"
            if is_scheduler(job):
                lines.append(f"{indent}subgraph cluster_{job.repr_id()} {{")
                lines.append(f"{indent}  label={_quote(label)}; {_style(job)};")
                if not job.jobs:
                    lines.append(f"{indent}  {node_name(job)} [shape=point];")
                walk(job, indent + "  ")
                lines.append(f"{indent}}}")
            else:
                lines.append(f"{indent}{node_name(job)} [label={_quote(label)} {_style(job)}];")
        for job in sched.topological_order():
            for req in sorted(graph.requirements(job), key=lambda j: j.repr_id()):
                if req not in sched.jobs:
                    continue
                tail, head = _anchor(req, entry=False), _anchor(job, entry=True)
                attrs = []
                if is_scheduler(req) and tail is not req:
                    attrs.append(f"ltail=cluster_{req.repr_id()}")
                if is_scheduler(job) and head is not job:
                    attrs.append(f"lhead=cluster_{job.repr_id()}")
                extra = f" [{' '.join(attrs)}]" if attrs else ""
                lines.append(f"{indent}{node_name(tail)} -> {node_name(head)}{extra};")

    walk(scheduler, "")
    lines.append("}")
    return "\n".join(lines) + "\n"


def run_dot(dotfile: str, output: str, suffix: str) -> None:
    """Run graphviz's ``dot``; GraphvizMissingError when it is missing or fails."""
    program = shutil.which("dot")
    if program is None:
        raise GraphvizMissingError(
            "the `dot` program (graphviz) is not installed: install graphviz "
            "(e.g. apt-get install graphviz), or use export_as_dotfile()"
        )
    done = subprocess.run(
        [program, f"-T{suffix}", dotfile, "-o", output], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise GraphvizMissingError(
            f"dot -T{suffix} {dotfile} failed ({done.returncode}): {done.stderr.strip()}"
        )


class DotMixin:
    """Graph export methods of schedulers."""

    def dot_format(self) -> str:
        """The scheduler as a DOT string."""
        return dot_format(self)

    def export_as_dotfile(self, filename: str | Path, show_ids: Any = None) -> str:
        """Write the DOT description to ``filename``; no graphviz needed."""
        Path(filename).write_text(self.dot_format())
        return f"(Over)wrote {filename}"

    def export_as_graphic(self, filename: str | Path, suffix: str) -> str:
        """Write ``<filename>.dot`` and ``<filename>.<suffix>`` (through ``dot``)."""
        base = str(filename)
        if base.endswith("." + suffix):
            base = base[: -len(suffix) - 1]
        dotfile = base + ".dot"
        self.export_as_dotfile(dotfile)
        output = f"{base}.{suffix}"
        run_dot(dotfile, output, suffix)
        return output

    def export_as_pngfile(self, filename: str | Path) -> str:
        """PNG image of the graph (needs graphviz's ``dot``)."""
        return self.export_as_graphic(filename, "png")

    def export_as_svgfile(self, filename: str | Path) -> str:
        """SVG image of the graph (needs graphviz's ``dot``)."""
        return self.export_as_graphic(filename, "svg")

    def graph(self, show_ids: Any = None) -> Any:
        """A ``graphviz.Source`` for notebooks (needs the ``graphviz`` Python package)."""
        try:
            import graphviz
        except ImportError as exc:
            raise GraphvizMissingError(
                "graph() needs the `graphviz` Python package (pip install graphviz); "
                "export_as_dotfile() / export_as_svgfile() work without it"
            ) from exc
        return graphviz.Source(source=self.dot_format())
