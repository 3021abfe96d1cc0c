"""Start the help line and the baseline under gunicorn exactly as the Procfile's `web` entry does.

The only change to the Procfile's command is the address: 127.0.0.1 on a free port, so nothing
is ever exposed beyond loopback. Process figures (CPU time, memory) come from /proc.
"""
from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

ROOT = Path(__file__).resolve().parent.parent
HELPLINE_APP = "helpline:create_app()"
MINIMAL_APP = "bench.minimal:app"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

_VAR = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _expand(text: str, env: Mapping[str, str]) -> str:
    """Shell-style ${VAR:-default} and $VAR, as the Procfile runner would expand them."""
    def sub(match: re.Match) -> str:
        name = match.group(1) or match.group(3)
        default = match.group(2) or ""
        return env.get(name) or default
    return _VAR.sub(sub, text)


def procfile_web(procfile: Path, env: Mapping[str, str]) -> list[str]:
    """The Procfile's `web` command as an argument list, with its variables expanded."""
    for line in procfile.read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == "web":
            return shlex.split(_expand(command.strip(), env))
    raise RuntimeError(f"no web entry in {procfile}")


def gunicorn_command(app_spec: str, port: int, env: Mapping[str, str], procfile: Path = ROOT / "Procfile") -> list[str]:
    """The Procfile's gunicorn command, bound to 127.0.0.1:port and serving app_spec."""
    args = procfile_web(procfile, {**env, "PORT": str(port)})
    if not args or Path(args[0]).name != "gunicorn":
        raise RuntimeError(f"the Procfile's web entry does not start gunicorn: {args}")
    args = [sys.executable, "-m", "gunicorn", *args[1:]]
    out: list[str] = []
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg in ("--bind", "-b"):
            out += [arg, f"127.0.0.1:{port}"]
            skip = True
        elif arg.startswith("--bind="):
            out.append(f"--bind=127.0.0.1:{port}")
        else:
            out.append(arg)
    if f"127.0.0.1:{port}" not in " ".join(out):
        out += ["--bind", f"127.0.0.1:{port}"]
    if out[-1] != HELPLINE_APP:
        raise RuntimeError(f"the Procfile's web entry does not end with {HELPLINE_APP!r}: {out}")
    out[-1] = app_spec
    return out


def _stat(pid: int) -> tuple[float, int] | None:
    """(CPU seconds user+system, resident kB) of one process, or None when it has gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # fields[0] is the state (field 3); utime, stime are fields 14, 15; rss (pages) field 24.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK, int(fields[21]) * PAGE_KB


def database_server_cpu_seconds() -> float:
    """CPU time so far of every PostgreSQL server process on this machine (0 when there is none)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as fh:
                if fh.read().strip() != "postgres":
                    continue
        except OSError:
            continue
        stat = _stat(int(entry))
        if stat:
            total += stat[0]
    return total


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


@dataclass
class Server:
    """One gunicorn master and its workers, started by us and stopped by pid."""

    name: str
    app_spec: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    command: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "Server":
        self.launch()
        return self.wait(timeout)

    def launch(self) -> None:
        self.command = gunicorn_command(self.app_spec, self.port, self.env)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()

    def wait(self, timeout: float = 30.0) -> "Server":
        """Until the server answers with all its workers up; stopped and an error if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log_path}")
            if self._answers() and len(self.workers()) >= self.expected_workers():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer on {self.url} within {timeout:.0f}s; see {self.log_path}")

    def expected_workers(self) -> int:
        args = self.command
        for flag in ("--workers", "-w"):
            if flag in args:
                return int(args[args.index(flag) + 1])
        return 1

    def _answers(self) -> bool:
        try:
            req = urllib.request.Request(self.url + "/voice/fallback", data=b"", method="POST")
            with urllib.request.urlopen(req, timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def workers(self) -> list[int]:
        return _children(self.process.pid) if self.process else []

    def cpu_seconds(self) -> float:
        """CPU time so far of the master and its current workers."""
        total = 0.0
        for pid in [self.process.pid, *self.workers()]:
            stat = _stat(pid)
            if stat:
                total += stat[0]
        return total

    def worker_memory_kb(self) -> dict[int, int]:
        """Resident memory of each worker, in kB."""
        out = {}
        for pid in self.workers():
            stat = _stat(pid)
            if stat:
                out[pid] = stat[1]
        return out

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the master (it stops its workers), then SIGKILL its group if it lingers."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def start_all(*servers: Server) -> Iterator[tuple[Server, ...]]:
    """Start several servers at once (their imports overlap), and stop them all at the end."""
    try:
        for server in servers:
            server.launch()
        for server in servers:
            server.wait()
        yield servers
    finally:
        for server in servers:
            server.stop()
