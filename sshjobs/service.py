"""``Service``: start, stop and query a long-running process on a remote host (apssh-compatible).

Each method returns a ``Run`` command whose remote text is a small POSIX shell script. The
script decides *on the host, at run time* how to manage the process:

* with systemd (``/run/systemd/system`` exists and ``systemd-run`` is found): a transient unit
  named after ``service_id`` (``systemd-run --unit``), stopped with ``systemctl stop``, queried
  with ``systemctl status``, its output read with ``journalctl``;
* without systemd (containers, the test farm): the command is started with ``setsid`` in a new
  session whose leader records its pid in ``~/.sshjobs/services/<id>/pid`` (a private, mode 700
  directory); its output goes to ``log`` in the same directory. Stopping sends TERM, then KILL,
  to the process group *and* to every process of that session (found in ``/proc``), so the
  whole tree goes, children included; status exits 0 when a process of the session is alive,
  3 otherwise (like ``systemctl status``).

The fallback cannot follow a child that starts a session of its own (a daemon that double
forks): only cgroups (systemd) can. ``tty=True`` is honoured by systemd only.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Mapping
from typing import Any

__all__ = ["Service"]

logger = logging.getLogger("sshjobs.service")

_ID = re.compile(r"^[A-Za-z0-9_.@:-]+$")
_BACKENDS = ("auto", "systemd", "plain")
#: end marker of the here-document carrying the command (a line equal to it would end it)
_EOF = "SSHJOBS_SERVICE_COMMAND_END"

# Functions of the plain (no systemd) back-end. Kept free of '{{', '{%' and '{#' so that the
# whole script can also be a Jinja2 template (a Deferred command).
_PLAIN_FUNCTIONS = r"""
sshjobs_load() {
  sshjobs_sid= sshjobs_start=
  { read -r sshjobs_sid sshjobs_start < "$sshjobs_dir/pid"; } 2>/dev/null
  case "$sshjobs_sid" in ''|*[!0-9]*) sshjobs_sid= ;; esac
}
sshjobs_members() {
  [ -n "$sshjobs_sid" ] || return 0
  # a live leader started at another time: the pid was reused, the session is not ours
  if { read -r sshjobs_line < "/proc/$sshjobs_sid/stat"; } 2>/dev/null; then
    set -- ${sshjobs_line##*) }
    [ "${20}" = "$sshjobs_start" ] || return 0
  fi
  for sshjobs_stat in /proc/[0-9]*/stat; do
    { read -r sshjobs_line < "$sshjobs_stat"; } 2>/dev/null || continue
    set -- ${sshjobs_line##*) }
    [ "$1" != Z ] && [ "$4" = "$sshjobs_sid" ] || continue
    sshjobs_p=${sshjobs_stat#/proc/}
    echo "${sshjobs_p%/stat}"
  done
}
sshjobs_stop() {
  sshjobs_load
  sshjobs_n=0
  while sshjobs_pids=$(sshjobs_members); [ -n "$sshjobs_pids" ]; do
    if [ "$sshjobs_n" -lt "$sshjobs_ticks" ]; then sshjobs_sig=TERM; else sshjobs_sig=KILL; fi
    kill -s "$sshjobs_sig" -- "-$sshjobs_sid" $sshjobs_pids 2>/dev/null
    if [ "$sshjobs_n" -gt $((sshjobs_ticks + 20)) ]; then
      echo "service $sshjobs_id: could not stop" $sshjobs_pids >&2
      return 1
    fi
    sshjobs_n=$((sshjobs_n + 1))
    sleep 0.1
  done
  rm -f "$sshjobs_dir/pid"
}
"""


class Service:
    """A long-running remote command, started and stopped from SSH jobs.

    ``command`` is shell text (or a ``Deferred``); ``service_id`` names the systemd unit or
    the private directory of the fallback; ``environ`` is set in the process's environment;
    ``stop_if_running`` makes ``start`` restart a running instance (else ``start`` fails).
    ``backend`` forces ``"systemd"`` or ``"plain"`` instead of deciding on the host;
    ``stop_timeout`` is how long the plain back-end's stop waits after TERM before it KILLs.
    """

    def __init__(
        self,
        command: Any,
        *,
        service_id: str,
        tty: bool = False,
        systemd_type: str = "simple",
        environ: Mapping[str, Any] | None = None,
        stop_if_running: bool = True,
        verbose: bool = False,
        backend: str = "auto",
        stop_timeout: float = 5.0,
    ) -> None:
        if not isinstance(service_id, str) or not _ID.match(service_id):
            raise ValueError(f"service_id {service_id!r}: use letters, digits and _.@:- only")
        if backend not in _BACKENDS:
            raise ValueError(f"backend {backend!r}: expected one of {', '.join(_BACKENDS)}")
        self.command = command
        self.service_id = service_id
        self.tty = tty
        self.systemd_type = systemd_type
        self.environ = {str(k): str(v) for k, v in (environ or {}).items()}
        for name in self.environ:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                raise ValueError(f"environ: {name!r} is not a valid variable name")
        self.stop_if_running = stop_if_running
        self.verbose = verbose
        self.backend = backend
        self.stop_timeout = stop_timeout

    def __repr__(self) -> str:
        return f"Service({self.service_id!r}, {str(self._command_text())!r})"

    # --- script text -------------------------------------------------------------------
    def _command_text(self) -> str:
        """The command as template text when it is a Deferred, else as plain text."""
        for attribute in ("template", "_template"):
            text = getattr(self.command, attribute, None)
            if isinstance(text, str) and hasattr(self.command, "dup_from_string"):
                return text
        return str(self.command)

    def _prologue(self) -> str:
        quoted = shlex.quote(self.service_id)
        if self.backend == "auto":
            detect = (
                "if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1;"
                " then sshjobs_systemd=1; else sshjobs_systemd=; fi"
            )
        else:
            detect = f"sshjobs_systemd={'1' if self.backend == 'systemd' else ''}"
        return "\n".join(
            [
                f"sshjobs_id={quoted}",
                f'sshjobs_dir="${{HOME:-/tmp}}/.sshjobs/services/"{quoted}',
                f"sshjobs_ticks={max(1, round(self.stop_timeout * 10))}",
                detect,
                _PLAIN_FUNCTIONS.strip(),
                "",
            ]
        )

    def _script(self, systemd: str, plain: str) -> str:
        return (
            self._prologue() + f'if [ -n "$sshjobs_systemd" ]; then\n{systemd}\nelse\n{plain}\nfi\n'
        )

    def start_script(self) -> str:
        """The shell text ``start_command`` runs (a Jinja2 template when command is Deferred)."""
        unit = shlex.quote(self.service_id)
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in self.environ.items())
        setenv = "".join(f" --setenv={shlex.quote(f'{k}={v}')}" for k, v in self.environ.items())
        pty = " --pty" if self.tty else ""
        stop_first = (
            f"  systemctl is-active --quiet {unit} && systemctl stop {unit}\n"
            f"  systemctl reset-failed {unit} 2>/dev/null\n"
            if self.stop_if_running
            else ""
        )
        systemd = (
            stop_first + f"  systemd-run{pty} --unit={unit} "
            f"--service-type={shlex.quote(self.systemd_type)}{setenv} "
            '/bin/sh -c "$sshjobs_cmd"'
        )
        if self.stop_if_running:
            running = "  sshjobs_stop || exit 1\n"
        else:
            running = (
                '  echo "service $sshjobs_id is already running (stop it first)" >&2\n  exit 1\n'
            )
        plain = (
            "  command -v setsid >/dev/null 2>&1 || "
            '{ echo "service $sshjobs_id: neither systemd nor setsid on this host" >&2; exit 1; }\n'
            '  (umask 077 && mkdir -p "$sshjobs_dir") || exit 1\n'
            "  sshjobs_load\n"
            f'  if [ -n "$(sshjobs_members)" ]; then\n{running}  fi\n'
            '  rm -f "$sshjobs_dir/pid" "$sshjobs_dir/pid.new"\n'
            f"  (\n{exports}"
            # the session leader records its pid and start time, then becomes the command
            "  exec setsid sh -c 'c=$1; read -r l < /proc/$$/stat; set -- ${l##*) }; "
            'echo $$ ${20} > "$0.new" && mv "$0.new" "$0" && exec sh -c "$c"\' '
            '"$sshjobs_dir/pid" "$sshjobs_cmd" < /dev/null >> "$sshjobs_dir/log" 2>&1\n'
            "  ) &\n"
            "  sshjobs_n=0\n"
            '  while [ ! -s "$sshjobs_dir/pid" ] && [ "$sshjobs_n" -lt 100 ]; do\n'
            "    sleep 0.05; sshjobs_n=$((sshjobs_n + 1))\n  done\n"
            '  [ -s "$sshjobs_dir/pid" ] || '
            '{ echo "service $sshjobs_id did not start" >&2; exit 1; }\n'
            '  echo "service $sshjobs_id started, pid $(cat "$sshjobs_dir/pid")"'
        )
        body = f"sshjobs_cmd=$(cat <<'{_EOF}'\n{self._command_text()}\n{_EOF}\n)\n"
        return (
            self._prologue()
            + body
            + (f'if [ -n "$sshjobs_systemd" ]; then\n{systemd}\nelse\n{plain}\nfi\n')
        )

    def stop_script(self) -> str:
        """The shell text ``stop_command`` runs."""
        unit = shlex.quote(self.service_id)
        return self._script(
            f"  systemctl stop {unit}", '  sshjobs_stop && echo "service $sshjobs_id stopped"'
        )

    def status_script(self, output: str | None = None) -> str:
        """The shell text ``status_command`` runs; exit 0 if running, 3 if not."""
        unit = shlex.quote(self.service_id)
        redirect = f" > {shlex.quote(output)} 2>&1" if output else ""
        plain = (
            "  sshjobs_load\n  sshjobs_pids=$(sshjobs_members)\n"
            '  if [ -n "$sshjobs_pids" ]; then\n'
            f'    echo "service $sshjobs_id: running, pid $sshjobs_sid" {redirect}\n'
            "    exit 0\n  fi\n"
            f'  echo "service $sshjobs_id: not running" {redirect}\n  exit 3'
        )
        return self._script(f"  systemctl status {unit}{redirect}", plain)

    def journal_script(self, since: str | None = None) -> str:
        """The shell text ``journal_command`` runs (the fallback shows the whole log)."""
        unit = shlex.quote(self.service_id)
        since_opt = f" --since={shlex.quote(since)}" if since else ""
        note = (
            '  echo "service $sshjobs_id: no systemd here, since= ignored: whole log" >&2\n'
            if since
            else ""
        )
        return self._script(
            f"  journalctl --no-pager --unit={unit}{since_opt}",
            note + '  cat "$sshjobs_dir/log" 2>/dev/null || echo "service $sshjobs_id: no log yet"',
        )

    # --- commands ----------------------------------------------------------------------
    def _run(self, script: str, label: str, run_kwds: dict[str, Any]) -> Any:
        from .commands import Run

        text: Any = script
        if hasattr(self.command, "dup_from_string"):  # a Deferred: render at run time
            text = self.command.dup_from_string(script)
        return Run(text, label=label, **run_kwds)

    def start_command(self, *, label: str | None = None, **run_kwds: Any) -> Any:
        """A Run that (re)starts the service."""
        default = f"start service {self.service_id}"
        if self.verbose:
            default += f": {self._command_text()}"
        return self._run(self.start_script(), label or default, run_kwds)

    def stop_command(self, *, label: str | None = None, **run_kwds: Any) -> Any:
        """A Run that stops the service and its whole process tree."""
        return self._run(self.stop_script(), label or f"stop service {self.service_id}", run_kwds)

    def status_command(
        self, *, output: str | None = None, label: str | None = None, **run_kwds: Any
    ) -> Any:
        """A Run that reports the service's state (exit 0 running, 3 not running);
        ``output`` redirects the report to a remote file."""
        return self._run(
            self.status_script(output), label or f"status of service {self.service_id}", run_kwds
        )

    def journal_command(
        self, *, since: str | None = None, label: str | None = None, **run_kwds: Any
    ) -> Any:
        """A Run that prints the service's output (journal with systemd, log file without)."""
        return self._run(
            self.journal_script(since), label or f"journal of service {self.service_id}", run_kwds
        )
