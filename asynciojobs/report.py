"""The run report: one self-contained HTML file (inline CSS and JavaScript, no network).

Made from a :class:`~asynciojobs.record.RunRecord` (``scheduler.export_as_report()``, or an
events file through ``sshjobs report``), it holds:

* a **timeline**: one row per job, in sections (the job's group - the node of an SSH job -,
  else its nested scheduler), a bar from start to end coloured by outcome, preceded by a
  hatched bar for the time the job was ready (its requirements done) but not started yet - no
  free slot in the jobs window, or an event loop too busy to start it; hovering a row shows
  its label, times and status, clicking it shows everything, output lines included;
* the **dependency graph** coloured by outcome: SVG drawn by graphviz's ``dot`` when it is
  installed (and the graph not too big to read), else a textual list, with a note saying so;
* a **summary**: per group, the jobs, failures and busy time; the slowest jobs.

Every job row carries ``data-job`` (label), ``data-start`` / ``data-end`` (seconds since the
run started, empty for a job that never started), ``data-outcome`` (done, failed, skipped,
cancelled, not-run, or running for a report made during the run) and, for jobs with a group,
``data-node``: tests and other tools read these (``data-id`` numbers the jobs; the page opens
with a job's details shown when its address ends with ``#job-ID``). Everything coming from
jobs is escaped.
"""

from __future__ import annotations

import datetime
import html
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from .record import JobRecord, RunRecord

#: above this many jobs the graph is listed as text (a drawing would be unreadable and slow)
MAX_DRAWN_JOBS = 1000
_COLORS = {
    "done": "#43a047",
    "failed": "#e53935",
    "skipped": "#9e9e9e",
    "cancelled": "#8e24aa",
    "not-run": "#eeeeee",
    "running": "#fb8c00",
}

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.4em 0 .5em}
.meta{color:#555}.legend span{display:inline-block;margin-right:1em}
.sw{display:inline-block;width:.9em;height:.9em;border-radius:2px;vertical-align:-1px;margin-right:.3em}
.gantt{border:1px solid #ddd;border-radius:4px;overflow:hidden}
.sec{border-top:1px solid #ddd}.sec:first-child{border-top:0}
.sec>h3{margin:0;padding:3px 8px;font-size:.9em;background:#f3f6f9;color:#234}
.row{display:flex;align-items:center;height:18px;cursor:pointer}
.row:hover,.row.sel{background:#fff8e1}
.name{box-sizing:border-box;flex:0 0 26%;overflow:hidden;white-space:nowrap;
text-overflow:ellipsis;padding:0 8px;font-size:.85em}
.row.sched .name{font-weight:600}
.lane{position:relative;flex:1;height:12px;margin-right:8px}
.bar,.wait{position:absolute;top:0;height:12px;min-width:2px;border-radius:2px}
.wait{background:repeating-linear-gradient(45deg,#ffcc80 0 3px,#fff3e0 3px 6px)}
.o-done .bar{background:#43a047}.o-failed .bar{background:#e53935}
.o-cancelled .bar{background:#8e24aa}.o-running .bar{background:#fb8c00}
.o-skipped .name,.o-not-run .name{color:#888;font-style:italic}
.row.sched .bar{opacity:.35}
.axis{position:relative;height:16px;margin-left:26%;margin-right:8px;font-size:.75em;color:#777}
.axis span{position:absolute;transform:translateX(-50%)}
#detail{position:sticky;bottom:0;background:#fafafa;border:1px solid #ccc;border-radius:4px;
padding:.5em 1em;margin-top:1em;max-height:40vh;overflow:auto}
#detail pre{background:#222;color:#eee;padding:.5em;white-space:pre-wrap;margin:.3em 0}
table{border-collapse:collapse;margin-bottom:1em}
td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}
th{background:#f3f6f9}td.n{text-align:right}
.graph svg{max-width:100%;height:auto}
.note{color:#8a6d3b;background:#fcf8e3;padding:.3em .6em;border-radius:4px}
ul.deps{font-family:monospace;font-size:.85em}
"""

_JS = r"""
(function(){
  var panel=document.getElementById('detail');
  function field(name,value){
    if(!value)return;
    var p=document.createElement('div');var b=document.createElement('b');
    b.textContent=name+': ';p.appendChild(b);p.appendChild(document.createTextNode(value));
    panel.appendChild(p);
  }
  function show(row){
    var d=row.dataset,prev=document.querySelector('.row.sel');
    if(prev)prev.classList.remove('sel');row.classList.add('sel');
    panel.textContent='';panel.hidden=false;
    var h=document.createElement('h3');h.textContent=d.job;panel.appendChild(h);
    field('outcome',d.outcome);field('node',d.node);
    field('start',d.start?d.start+' s':'');field('end',d.end?d.end+' s':'');
    field('ready, waited to start',d.wait?d.wait+' s':'');field('status',d.status);
    field('error',d.error);field('attempts',d.attempts);
    if(d.tail){var pre=document.createElement('pre');pre.textContent=d.tail;panel.appendChild(pre);}
  }
  var rows=document.querySelectorAll('.row');
  rows.forEach(function(row){
    row.addEventListener('click',function(){
      show(row);history.replaceState(null,'','#job-'+row.dataset.id);
    });
  });
  var m=/^#job-(\d+)$/.exec(location.hash);
  if(m){
    var row=document.querySelector('.row[data-id="'+m[1]+'"]');
    if(row){show(row);row.scrollIntoView({block:'nearest'});}
  }
})();
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _section_of(record: JobRecord, by_id: dict[int, JobRecord]) -> str:
    if record.group:
        return record.group
    names = []
    parent = record.parent
    while parent is not None:
        names.append(by_id[parent].label)
        parent = by_id[parent].parent
    return " ▸ ".join(reversed(names)) if names else "jobs"


def _row(record: JobRecord, scale: float, min_wait: float) -> str:
    attrs = {
        "data-id": str(record.id),
        "data-job": record.label,
        "data-start": _fmt(record.start),
        "data-end": _fmt(record.end),
        "data-outcome": record.outcome,
    }
    if record.group:
        attrs["data-node"] = record.group
    title = [record.label, record.outcome]
    if record.start is not None:
        title.append(f"{record.start:.3f}s → {_fmt(record.end)}s")
    if record.status:
        attrs["data-status"] = record.status
        title.append(record.status)
    if record.error:
        attrs["data-error"] = record.error
        title.append(record.error)
    if record.attempts > 1:
        attrs["data-attempts"] = str(record.attempts)
        title.append(f"{record.attempts} attempts")
    if record.tail:
        attrs["data-tail"] = "\n".join(record.tail)
    lane = ""
    if record.start is not None:
        ready = record.ready if record.ready is not None else record.start
        wait = record.start - ready
        if wait >= min_wait:  # shorter waits are noise (the loop's own scheduling)
            attrs["data-wait"] = _fmt(wait)
            lane += (
                f'<span class="wait" style="left:{ready * scale:.3f}%;'
                f'width:{wait * scale:.3f}%"></span>'
            )
        width = (record.end - record.start) if record.end is not None else 0.0
        lane += (
            f'<span class="bar" style="left:{record.start * scale:.3f}%;'
            f'width:{width * scale:.3f}%"></span>'
        )
    attrs["title"] = " · ".join(title)
    classes = f"row job o-{record.outcome}" + (" sched" if record.scheduler else "")
    text = " ".join(f'{key}="{_e(value)}"' for key, value in attrs.items())
    return (
        f'<div class="{classes}" {text}><span class="name">{_e(record.label)}</span>'
        f'<span class="lane">{lane}</span></div>'
    )


def _ticks(duration: float) -> str:
    if duration <= 0:
        return ""
    raw = duration / 8
    magnitude = 10 ** int(f"{raw:e}".split("e")[1])
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    out, value = [], 0.0
    while value <= duration + 1e-9:
        out.append(f'<span style="left:{value / duration * 100:.2f}%">{value:g}s</span>')
        value = round(value + step, 9)
    return "".join(out)


def timeline_html(run: RunRecord) -> str:
    """The timeline section: sections of rows, ordered by their first start."""
    by_id = {r.id: r for r in run.jobs}
    scale = 100.0 / run.duration if run.duration > 0 else 0.0
    min_wait = max(0.001, run.duration / 500)
    sections: dict[str, list[JobRecord]] = {}
    for record in run.jobs:
        sections.setdefault(_section_of(record, by_id), []).append(record)

    def first(records: list[JobRecord]) -> float:
        return min((r.start for r in records if r.start is not None), default=float("inf"))

    parts = [f'<div class="axis">{_ticks(run.duration)}</div><div class="gantt">']
    for name, records in sorted(sections.items(), key=lambda item: first(item[1])):
        records.sort(key=lambda r: (r.start is None, r.start or 0.0, r.id))
        failed = sum(1 for r in records if r.outcome == "failed")
        extra = f", {failed} failed" if failed else ""
        count = f"{len(records)} job" + ("s" if len(records) > 1 else "")
        parts.append(
            f'<div class="sec" data-group="{_e(name)}"><h3>{_e(name)} '
            f"<small>({count}{extra})</small></h3>"
        )
        parts.extend(_row(record, scale, min_wait) for record in records)
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


# ---- graph -----------------------------------------------------------------------------------
def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def graph_dot(run: RunRecord) -> str:
    """DOT text of the jobs graph, nodes filled with their outcome's colour, nested
    schedulers as clusters."""
    by_id = {r.id: r for r in run.jobs}
    children: dict[int | None, list[JobRecord]] = {}
    for record in run.jobs:
        children.setdefault(record.parent, []).append(record)

    def anchor(record: JobRecord, last: bool) -> JobRecord:
        while record.scheduler and children.get(record.id):
            inner = children[record.id]
            record = inner[-1] if last else inner[0]
        return record

    lines = [
        "digraph run {",
        "compound=true; rankdir=TB;",
        'node [shape=box style="rounded,filled" fontname="sans-serif" fontsize=10];',
    ]

    def walk(parent: int | None, indent: str) -> None:
        for record in children.get(parent, []):
            text = record.label if not record.group else f"{record.label}\n{record.group}"
            if record.scheduler:
                lines.append(f"{indent}subgraph cluster_{record.id} {{")
                lines.append(
                    f'{indent}  label={_dot_quote(text)}; style="rounded,filled"; '
                    f'fillcolor="{_COLORS[record.outcome]}22";'
                )
                if not children.get(record.id):
                    lines.append(f"{indent}  j{record.id} [shape=point];")
                walk(record.id, indent + "  ")
                lines.append(f"{indent}}}")
            else:
                color = _COLORS[record.outcome]
                font = "white" if record.outcome in ("done", "failed", "cancelled") else "black"
                lines.append(
                    f"{indent}j{record.id} [label={_dot_quote(text)} "
                    f'fillcolor="{color}" fontcolor="{font}" '
                    f"tooltip={_dot_quote(record.outcome)}];"
                )

    walk(None, "")
    for record in run.jobs:
        for req_id in record.requires:
            req = by_id[req_id]
            tail, head = anchor(req, last=True), anchor(record, last=False)
            attrs = []
            if req.scheduler and tail is not req:
                attrs.append(f"ltail=cluster_{req.id}")
            if record.scheduler and head is not record:
                attrs.append(f"lhead=cluster_{record.id}")
            extra = f" [{' '.join(attrs)}]" if attrs else ""
            lines.append(f"j{tail.id} -> j{head.id}{extra};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph_html(run: RunRecord, max_drawn: int = MAX_DRAWN_JOBS) -> str:
    """Inline SVG from ``dot``, else a list of the jobs and their requirements with a note."""
    program = shutil.which("dot")
    note = ""
    if program is None:
        note = "graphviz's <code>dot</code> is not installed: the graph is listed as text."
    elif len(run.jobs) > max_drawn:
        note = (
            f"{len(run.jobs)} jobs: more than {max_drawn}, the graph is listed as text "
            "(a drawing would not be readable)."
        )
    else:
        try:
            done = subprocess.run(
                [program, "-Tsvg"],
                input=graph_dot(run),
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            done = None
            note = f"<code>dot</code> failed ({_e(exc)}): the graph is listed as text."
        if done is not None and done.returncode == 0:
            svg = done.stdout[done.stdout.find("<svg") :]
            svg = re.sub(r"<!--.*?-->", "", svg, flags=re.DOTALL)
            return f'<div class="graph">{svg}</div>'
        if done is not None:
            note = (
                f"<code>dot</code> failed ({_e(done.stderr.strip()[:200])}): "
                "the graph is listed as text."
            )
    by_id = {r.id: r for r in run.jobs}
    items = []
    for record in run.jobs:
        reqs = ", ".join(by_id[req].label for req in record.requires)
        items.append(
            f'<li><span class="sw" style="background:{_COLORS[record.outcome]}">'
            f"</span>{_e(record.label)} [{record.outcome}]"
            + (f" ← {_e(reqs)}" if reqs else "")
            + "</li>"
        )
    return f'<p class="note">{note}</p><ul class="deps">{"".join(items)}</ul>'


# ---- summary ---------------------------------------------------------------------------------
def summary_html(run: RunRecord, slowest: int = 10) -> str:
    by_id = {r.id: r for r in run.jobs}
    groups: dict[str, list[JobRecord]] = {}
    for record in run.jobs:
        if not record.scheduler:
            groups.setdefault(_section_of(record, by_id), []).append(record)
    rows = []
    for name, records in sorted(groups.items()):
        busy = sum(r.duration or 0.0 for r in records)
        counts = {
            o: sum(1 for r in records if r.outcome == o) for o in ("failed", "skipped", "not-run")
        }
        rows.append(
            f"<tr><td>{_e(name)}</td><td class=n>{len(records)}</td>"
            f"<td class=n>{counts['failed']}</td><td class=n>{counts['skipped']}</td>"
            f"<td class=n>{counts['not-run']}</td><td class=n>{busy:.3f}</td></tr>"
        )
    table = (
        "<table><tr><th>group / node</th><th>jobs</th><th>failed</th><th>skipped</th>"
        "<th>not run</th><th>total time (s)</th></tr>" + "".join(rows) + "</table>"
    )
    ranked = sorted(
        (r for r in run.jobs if r.duration is not None and not r.scheduler),
        key=lambda r: -(r.duration or 0.0),
    )[:slowest]
    slow = "".join(
        f"<tr><td>{_e(r.label)}</td><td>{_e(r.group or '')}</td>"
        f"<td class=n>{r.duration:.3f}</td><td>{r.outcome}</td></tr>"
        for r in ranked
    )
    return table + (
        "<h3>Slowest jobs</h3><table><tr><th>job</th><th>node</th><th>seconds</th>"
        f"<th>outcome</th></tr>{slow}</table>"
        if slow
        else ""
    )


def report_html(run: RunRecord) -> str:
    """The whole HTML document."""
    counts: dict[str, int] = {}
    for record in run.jobs:
        if not record.scheduler:
            counts[record.outcome] = counts.get(record.outcome, 0) + 1
    started = (
        datetime.datetime.fromtimestamp(run.started, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if run.started
        else ""
    )
    totals = ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))
    legend = "".join(
        f'<span><i class="sw" style="background:{color}"></i>{name}</span>'
        for name, color in _COLORS.items()
    ) + (
        '<span><i class="sw wait" style="position:static"></i>ready, waiting to start (jobs '
        "window full, or the event loop busy)</span>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(run.title)} - run report</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(run.title)}</h1><p class=meta>{_e(started)} · {run.duration:.3f} s · "
        f"{_e(totals)}{' · ' + _e(run.why) if run.why else ''}</p>"
        f'<h2>Timeline</h2><p class="legend">{legend}</p>'
        f'<section id="timeline">{timeline_html(run)}</section>'
        '<aside id="detail" hidden></aside>'
        f'<h2>Dependency graph</h2><section id="graph">{graph_html(run)}</section>'
        f'<h2>Summary</h2><section id="summary">{summary_html(run)}</section>'
        f"<script>{_JS}</script></body></html>\n"
    )


def write_report(run: RunRecord, filename: str | Path) -> str:
    """Write the report of ``run`` as ``filename``; returns the file name."""
    Path(filename).write_text(report_html(run), encoding="utf-8")
    return str(filename)
