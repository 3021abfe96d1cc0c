"""The benchmark runs: load against the baseline, scale with history, micro, pages and the soak."""
from __future__ import annotations

import json
import math
import os
import re
import statistics
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import database, load, loader, machine, micro, pages, traffic
from .servers import HELPLINE_APP, MINIMAL_APP, ROOT, Server, start_all

RESULTS = ROOT / "bench" / "results"


@dataclass
class Options:
    smoke: bool = False
    databases: tuple[str, ...] = ("sqlite", "postgresql")
    concurrency: tuple[int, ...] = (8, 32, 128)
    duration: float = 10.0
    threads: int = 1  # wrk threads: one keeps up with the baseline at a fraction of a core
    scales: tuple[float, ...] = (0.0, 0.1, 1.0)  # fractions of the 1M-interaction history
    scale_concurrency: int = 32
    load_rounds: int = 3  # the baseline and the help line, alternated, at each concurrency
    scale_rounds: int = 3  # each size measured this many times, in alternation with the others
    # ... and then its turn alone, in one process a size without gunicorn: this many rounds, each a
    # batch of so many turns on every size in turn.
    alone_rounds: int = 40
    alone_turns: int = 250
    soak_minutes: int = 10
    soak_concurrency: int = 32
    out: Path = RESULTS
    say: Callable[[str], None] = lambda text, _t0=time.monotonic(): print(
        f"[{time.monotonic() - _t0:6.1f}s] {text}", flush=True)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="helpline-bench-")))

    @classmethod
    def for_smoke(cls, **kw: Any) -> "Options":
        dbs = ("sqlite", "postgresql") if os.environ.get(database.PG_ENV) else ("sqlite",)
        return cls(smoke=True, databases=dbs, concurrency=(8,), duration=1.0, scales=(0.0, 0.002),
                   load_rounds=2, scale_concurrency=8, scale_rounds=2, alone_rounds=2, alone_turns=100,
                   soak_minutes=2, **kw)


class Bench:
    """Shared state of one benchmark invocation: templates, unique ids, where files go."""

    def __init__(self, opts: Options):
        self.opts = opts
        opts.out.mkdir(parents=True, exist_ok=True)
        opts.workdir.mkdir(parents=True, exist_ok=True)
        self.say = opts.say
        self.say("recording the conversation templates through the real flow ...")
        self.templates = traffic.record_templates(workdir=opts.workdir)
        self.started = time.monotonic()
        self.numbering = traffic.Numbering()
        self.scripts = 0

    def cleanup(self) -> None:
        shutil.rmtree(self.opts.workdir, ignore_errors=True)

    # --- one measured point -----------------------------------------------------------------

    def _scripts(self, connections: int, requests: int) -> Path:
        self.scripts += 1
        prefix = self.opts.workdir / f"requests-{self.scripts}"
        per_thread = math.ceil(requests / self.opts.threads)
        # A one-second smoke run needs conversations short enough in flight to reach their endings.
        slots = 16 * connections if self.opts.smoke else None
        traffic.write_scripts(self.templates, self.numbering, prefix, self.opts.threads, per_thread, connections, slots)
        return prefix

    def point(self, server: Server, app: str, db: str, connections: int, duration: float,
              label: str = "") -> load.Point:
        # Fresh conversations for the help line: enough for 4,000 requests a second, with room to spare.
        # The baseline keeps no state, so a shorter file that wraps round is as good as an endless one.
        wanted = int(duration * 4000) + 2000 if app == "helpline" else 20000
        prefix = self._scripts(connections, wanted)
        result = load.measure(server, app, db, prefix, self.opts.threads, connections, duration, label)
        for path in prefix.parent.glob(prefix.name + ".*"):
            path.unlink()
        self.say(f"  {app:8} {db:10} c={connections:<3} {result.rps:8.0f} req/s  p50 {result.p50_ms:6.1f} ms  "
                 f"p99 {result.p99_ms:6.1f} ms  errors {result.errors}  cpu/req {result.server_cpu_us_per_request:.0f} µs"
                 f"  other load {result.other_cpu_cores:.2f} cores {label}")
        if app == "helpline" and result.wraps:
            self.say(f"  warning: the generator ran out of fresh conversations {result.wraps} time(s)")
        return result

    def warm(self, server: Server, app: str, db: str) -> None:
        """First requests pay for imports, pools and caches: keep them out of the figures."""
        if self.opts.smoke:
            return
        load.measure(server, app, db, self._scripts(8, 3000), self.opts.threads, 8, 1 if self.opts.smoke else 2)

    # --- the suites ------------------------------------------------------------------------------

    def concurrency(self, kind: str) -> dict[str, Any]:
        """The help line and the baseline at each concurrency on an empty database, in rounds that
        alternate the two; each concurrency reports the round whose ratio is the median, and the
        ratio of every round (on this machine one pair of runs moves by a fifth between minutes)."""
        url = database.for_kind(kind, self.opts.workdir)
        database.fresh(url)
        env = traffic.server_env(url)
        points: list[dict[str, Any]] = []
        rounds: list[dict[str, Any]] = []
        minimal = Server("minimal", MINIMAL_APP, env, self.opts.out / "logs" / "minimal.log")
        helpline = Server("helpline", HELPLINE_APP, env, self.opts.out / "logs" / f"helpline-{kind}.log")
        with start_all(minimal, helpline):
            command = helpline.command
            self.warm(minimal, "minimal", kind)
            self.warm(helpline, "helpline", kind)
            for c in self.opts.concurrency:
                pairs = []
                for n in range(1, self.opts.load_rounds + 1):
                    # The baseline first and then the help line, or the other way round: neither
                    # always gets the moment straight after the other's run.
                    order = (minimal, helpline) if n % 2 else (helpline, minimal)
                    pair = {}
                    for server in order:
                        app = "minimal" if server is minimal else "helpline"
                        pair[app] = {**self.point(server, app, kind, c, self.opts.duration,
                                                  label=f"round {n}").as_dict(), "round": n}
                    pairs.append(pair)
                chosen = median_pair(pairs)
                points += [chosen["minimal"], chosen["helpline"]]
                rounds += [{"concurrency": c, "round": p["minimal"]["round"], "baseline_rps": p["minimal"]["rps"],
                            "helpline_rps": p["helpline"]["rps"], "ratio": p["helpline"]["rps"] / p["minimal"]["rps"],
                            "helpline_p99_ms": p["helpline"]["p99_ms"]} for p in pairs]
        return {"database": kind, "command": _display(command), "points": points, "rounds": rounds,
                "census": database.census(url)}

    def scale(self, kind: str) -> dict[str, Any]:
        """The same turn on an empty and on preloaded databases; staff pages timed on each.

        Every size has its own database and server, all started together and measured in turn,
        round after round, each round starting one size later: the machine's drift over the
        minutes of a run, and whatever one point leaves behind for the next (a checkpoint, the
        autovacuum of a database just written), fall on every size alike. Each size reports its
        median round."""
        sizes: list[dict[str, Any]] = []
        for fraction in self.opts.scales:
            rows = int(1_000_000 * fraction)
            url = database.separate(kind, self.opts.workdir, rows)
            database.fresh(url)
            loaded: dict[str, Any] = {}
            if fraction:
                self.say(f"loading {fraction:g} x the history into {kind} ...")
                loaded = loader.load(url, int(100_000 * fraction), rows, int(100_000 * fraction))
                database.vacuum(url)
            sizes.append({"fraction": fraction, "interactions": rows, "loaded": loaded, "url": url, "rounds": []})
        servers = [Server(f"helpline-{s['interactions']}", HELPLINE_APP, traffic.server_env(s["url"]),
                          self.opts.out / "logs" / f"scale-{kind}-{s['interactions']}.log") for s in sizes]
        try:
            with start_all(*servers):
                for server in servers:
                    self.warm(server, "helpline", kind)
                pairs = list(zip(sizes, servers))
                for n in range(1, self.opts.scale_rounds + 1):
                    # Each round starts one size later, so that no size always follows the same one.
                    first = (n - 1) % len(pairs)
                    for size, server in pairs[first:] + pairs[:first]:
                        result = self.point(server, "helpline", kind, self.opts.scale_concurrency, self.opts.duration,
                                            label=f"{size['interactions']:,} interactions preloaded, round {n}")
                        size["rounds"].append(result.as_dict())
            for size in sizes:
                size["point"] = median_round(size["rounds"])
            self.alone(kind, sizes)
            for size in sizes:
                size["pages"] = pages.time_pages(size["url"], smoke=self.opts.smoke)
        finally:
            for size in sizes:
                database.drop(size.pop("url"))
        return {"database": kind, "rounds": self.opts.scale_rounds, "sizes": sizes}

    def alone(self, kind: str, sizes: list[dict[str, Any]]) -> None:
        """The turn on each size alone: one process a size, no gunicorn, no other load of ours
        (the `turns` suite's loop), in short batches taken in turn, each round starting one size
        later. Under load a round's throughput moves by a fifth from one minute to the next on
        this machine, more than the 10% the target allows; a turn alone, interleaved finely, shows
        what the size of the database itself adds to it."""
        from .turns import interleaved

        batches = interleaved([size["url"] for size in sizes], self.templates, self.opts.alone_rounds,
                              self.opts.alone_turns)
        for size, mine in zip(sizes, batches):
            size["alone"] = [{"cpu_us": round(b["cpu_us"], 1), "wall_us": round(b["wall_us"], 1)} for b in mine]
            size["alone_median"] = {key: statistics.median(r[key] for r in size["alone"]) for key in ("cpu_us", "wall_us")}
            self.say(f"  turn alone {kind:10} {size['interactions']:>9,} interactions: {len(mine)} batches of "
                     f"{self.opts.alone_turns} turns, median {size['alone_median']['wall_us']:.0f} µs wall, "
                     f"{size['alone_median']['cpu_us']:.0f} µs CPU a turn")

    def soak(self, kind: str = "sqlite") -> dict[str, Any]:
        """A long run at fixed concurrency in one-minute stretches, memory read after each."""
        url = database.for_kind(kind, self.opts.workdir)
        database.fresh(url)
        minute = 1.0 if self.opts.smoke else 60.0
        samples = []
        with Server("helpline", HELPLINE_APP, traffic.server_env(url), self.opts.out / "logs" / "soak.log") as helpline:
            self.warm(helpline, "helpline", kind)
            start_rss = helpline.worker_memory_kb()
            samples.append({"minute": 0, "rss_mb": [round(v / 1024, 1) for v in start_rss.values()]})
            for m in range(1, self.opts.soak_minutes + 1):
                result = self.point(helpline, "helpline", kind, self.opts.soak_concurrency, minute,
                                    label=f"soak minute {m}")
                samples.append({"minute": m, "rss_mb": result.worker_rss_mb, "point": result.as_dict()})
        return {"database": kind, "concurrency": self.opts.soak_concurrency, "minutes": self.opts.soak_minutes,
                "samples": samples, "census": database.census(url)}


def median_pair(pairs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The round whose ratio of the help line to the baseline is the median (the lower middle one)."""
    ordered = sorted(pairs, key=lambda p: p["helpline"]["rps"] / p["minimal"]["rps"])
    return ordered[(len(ordered) - 1) // 2]


def median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median throughput (the lower middle one of an even number)."""
    ordered = sorted(rounds, key=lambda p: p["rps"])
    return ordered[(len(ordered) - 1) // 2]


def _display(command: list[str]) -> str:
    """The gunicorn command as it ran, with the interpreter shown as plain `gunicorn`."""
    args = command[3:] if command[1:3] == ["-m", "gunicorn"] else command[1:]
    args = [re.sub(r"^127\.0\.0\.1:\d+$", "127.0.0.1:<free port>", a) for a in args]
    return "gunicorn " + " ".join(f'"{a}"' if "(" in a else a for a in args)


def save(opts: Options, name: str, data: Any) -> Path:
    path = opts.out / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, default=str))
    return path


def run(opts: Options, suites: tuple[str, ...]) -> dict[str, Any]:
    """Run the chosen suites, saving each result as it completes."""
    opts.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": machine.describe()}
    save(opts, "machine", results["machine"])
    started = time.monotonic()
    bench = Bench(opts)
    try:
        if "micro" in suites:
            opts.say("micro benchmarks ...")
            results["micro"] = micro.run(smoke=opts.smoke)
            for kind in opts.databases:
                url = database.for_kind(kind, opts.workdir)
                database.fresh(url)
                results["micro"][f"webhook_in_process_{kind}"] = micro.webhooks_in_process(
                    url, 200 if opts.smoke else 3000, bench.templates)
            save(opts, "micro", results["micro"])
        bench_mix = traffic.mix(bench.templates)
        save(opts, "mix", bench_mix)
        if "load" in suites:
            results["load"] = []
            for kind in opts.databases:
                opts.say(f"load: help line and baseline on {kind} ...")
                results["load"].append(bench.concurrency(kind))
                save(opts, "load", results["load"])
        if "scale" in suites:
            results["scale"] = []
            for kind in opts.databases:
                opts.say(f"scale: empty and preloaded {kind} ...")
                results["scale"].append(bench.scale(kind))
                save(opts, "scale", results["scale"])
        if "profile" in suites:
            from . import profile

            results["profile"] = []
            for kind in opts.databases:
                opts.say(f"profile: py-spy on the help line's workers, {kind} ...")
                results["profile"].append(profile.run(bench, kind, opts.duration))
                save(opts, "profile", results["profile"])
        if "turns" in suites:
            from .turns import turns

            results["turns"] = []
            for kind in opts.databases:
                # One process; four on one database; on SQLite, four each on a file of its own.
                for processes, apart in ((1, False), (4, False), (4, True)):
                    if apart and kind != "sqlite":
                        continue
                    urls = [database.separate(kind, opts.workdir, f"process-{i}") for i in range(processes)] if apart \
                        else [database.for_kind(kind, opts.workdir)]
                    for url in urls:
                        database.fresh(url)
                    point = {"database": kind, **turns(urls if apart else urls[0], bench.templates,
                                                       300 if opts.smoke else 4000, processes)}
                    opts.say(f"  turns in-process {kind:10} {processes} process(es) on {point['databases']} "
                             f"database(s): {point['cpu_us']:.0f} µs CPU, {point['wall_us']:.0f} µs wall a turn")
                    results["turns"].append(point)
            save(opts, "turns", results["turns"])
        if "instructions" in suites:
            from .instructions import count

            results["instructions"] = []
            for kind in opts.databases:
                url = database.for_kind(kind, opts.workdir)
                point = {"database": kind, **count(url, 100 if opts.smoke else 1000, opts.workdir / "instructions")}
                if "skipped" in point:
                    opts.say(f"  instructions {kind:10} skipped: {point['skipped']}")
                else:
                    trips = f", {point['round_trips_per_turn']} round trips" if "round_trips_per_turn" in point else ""
                    opts.say(f"  instructions {kind:10} {point['instructions_per_turn']:,} a turn{trips}")
                results["instructions"].append(point)
            save(opts, "instructions", results["instructions"])
        if "soak" in suites:
            opts.say(f"soak: {opts.soak_minutes} minute(s) at c={opts.soak_concurrency} on sqlite ...")
            results["soak"] = bench.soak("sqlite")
            save(opts, "soak", results["soak"])
    finally:
        bench.cleanup()
    results["seconds"] = round(time.monotonic() - started, 1)
    return results
