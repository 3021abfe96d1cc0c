"""Turn the results into docs/benchmarks.md (the figures part) and two charts.

The figures are written between two markers in docs/benchmarks.md; everything outside them
(what the profiles showed, what was changed) is prose kept by hand and left as it is.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .servers import ROOT

DOC = ROOT / "docs" / "benchmarks.md"
CHARTS = ROOT / "docs" / "benchmarks"
START, END = "<!-- figures:start (written by python -m bench report) -->", "<!-- figures:end -->"

TARGET_RATIO = {"sqlite": 0.35, "postgresql": 0.30}
TARGET_P99_MS = 25.0
TARGET_SCALE = 0.10
TARGET_STEP_US = 50.0
TARGET_QUEUE_MS = 50.0


def _load(out: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name in ("machine", "micro", "mix", "load", "scale", "soak"):
        path = out / f"{name}.json"
        if path.exists():
            results[name] = json.loads(path.read_text())
    return results


def _pairs(load_run: dict[str, Any]) -> list[tuple[dict, dict]]:
    """(baseline, help line) points at each concurrency."""
    by = {(p["app"], p["concurrency"]): p for p in load_run["points"]}
    return [(by[("minimal", c)], by[("helpline", c)]) for (app, c) in by if app == "helpline" and ("minimal", c) in by]


def summary(results: dict[str, Any]) -> str:
    """A plain-text digest for the terminal."""
    lines = []
    for name, m in sorted((results.get("micro") or {}).items()):
        value = m.get("best_us", m.get("cpu_us"))
        lines.append(f"micro {name:28} {value:>10} µs")
    for run in results.get("load") or []:
        for base, hl in _pairs(run):
            lines.append(f"load {run['database']:10} c={hl['concurrency']:<3} help line {hl['rps']:7.0f} req/s "
                         f"p99 {hl['p99_ms']:6.1f} ms | baseline {base['rps']:7.0f} req/s | "
                         f"ratio {hl['rps'] / base['rps']:.1%} | errors {hl['errors']}")
    for run in results.get("scale") or []:
        for size in run["sizes"]:
            p = size["point"]
            pg = size.get("pages") or {}
            q = pg.get("queue_page", {}).get("median_ms", "-") if pg.get("available") else "n/a"
            lines.append(f"scale {run['database']:10} {size['interactions']:>9,} rows {p['rps']:7.0f} req/s "
                         f"p50 {p['p50_ms']:5.1f} p99 {p['p99_ms']:6.1f} ms | queue page {q} ms")
    soak = results.get("soak")
    if soak:
        for s in soak["samples"]:
            p = s.get("point") or {}
            lines.append(f"soak minute {s['minute']:>2} rss {s['rss_mb']} MB {p.get('rps', '')} req/s "
                         f"errors {p.get('errors', '')}")
    return "\n".join(lines)


def _ms(v: float) -> str:
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def _own(p: dict[str, Any]) -> str:
    """The help line's own p50 / p99 from its request log ('-' for the baseline, or older results)."""
    if p.get("handling_p50_ms") is None:
        return "-"
    return f"{_ms(p['handling_p50_ms'])} / {_ms(p['handling_p99_ms'])}"


def _yes(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _targets(r: dict[str, Any]) -> list[str]:
    rows = ["| target | measured | |", "|---|---|---|"]
    for run in r.get("load") or []:
        db = run["database"]
        for base, hl in _pairs(run):
            if hl["concurrency"] != 32:
                continue
            ratio = hl["rps"] / base["rps"]
            rows.append(f"| {db}: a full turn at c=32 reaches {TARGET_RATIO[db]:.0%} of the baseline's throughput "
                        # One decimal: 34.6% must not read as the 35% it misses.
                        f"| {ratio:.1%} ({hl['rps']:.0f} of {base['rps']:.0f} req/s){_each_round(run, 32)} "
                        f"| {_yes(ratio >= TARGET_RATIO[db])} |")
            own = hl.get("handling_p99_ms")
            waited = (f" (the help line's own time, from the app receiving a request to its answer: p99 "
                      f"{_ms(own)} ms; the rest is the wait for a free worker and gunicorn's reading and "
                      "writing)" if own is not None else "")
            rows.append(f"| {db}: p99 at c=32 at most {TARGET_P99_MS:g} ms | {_ms(hl['p99_ms'])} ms{waited} "
                        f"| {_yes(hl['p99_ms'] <= TARGET_P99_MS)} |")
    for run in r.get("scale") or []:
        sizes = run["sizes"]
        empty = next((s for s in sizes if s["interactions"] == 0), None)
        full = max(sizes, key=lambda s: s["interactions"])
        if empty and full is not empty:
            e, f = empty["point"], full["point"]
            worse = max(f["p50_ms"] / e["p50_ms"] - 1, e["rps"] / f["rps"] - 1)
            cpu = f["server_cpu_us_per_request"] / e["server_cpu_us_per_request"] - 1
            loaded = (f"at c={e.get('concurrency', 32)}, median of {run.get('rounds', 1)} alternated round(s): "
                      f"p50 {_ms(e['p50_ms'])} → {_ms(f['p50_ms'])} ms, "
                      f"{e['rps']:.0f} → {f['rps']:.0f} req/s (worst change {worse:+.0%}); CPU per turn "
                      f"{e['server_cpu_us_per_request']:.0f} → {f['server_cpu_us_per_request']:.0f} µs ({cpu:+.0%})")
            ea, fa = empty.get("alone_median"), full.get("alone_median")
            if ea and fa:
                # Judged on the turn alone: under load the rounds of one size spread wider than 10%.
                change = fa["wall_us"] / ea["wall_us"] - 1
                measured = (f"a turn alone, median of {len(empty['alone'])} batches taken in turn with the other sizes: "
                            f"{ea['wall_us']:.0f} → {fa['wall_us']:.0f} µs ({change:+.0%}), CPU "
                            f"{ea['cpu_us']:.0f} → {fa['cpu_us']:.0f} µs; under load {loaded}")
                ok = change <= TARGET_SCALE
            else:
                measured, ok = loaded, worse <= TARGET_SCALE
            rows.append(f"| {run['database']}: preloaded ({full['interactions']:,} interactions) within "
                        f"{TARGET_SCALE:.0%} of empty | {measured} | {_yes(ok)} |")
        pages = full.get("pages") or {}
        if pages.get("available"):
            q = pages["queue_page"]["median_ms"]
            rows.append(f"| {run['database']}: staff queue page at most {TARGET_QUEUE_MS:g} ms preloaded "
                        f"| {q} ms median | {_yes(q <= TARGET_QUEUE_MS)} |")
        elif pages:
            rows.append(f"| {run['database']}: staff queue page at most {TARGET_QUEUE_MS:g} ms preloaded "
                        f"| not measured: {pages.get('reason')} | |")
    micro = r.get("micro") or {}
    if "engine_step_key" in micro:
        # Judged on the dearer of the two: a step with words (the free-text scan) is a step too.
        key, words = micro["engine_step_key"]["best_us"], micro["engine_step_words"]["best_us"]
        rows.append(f"| one engine step at most {TARGET_STEP_US:g} µs | {key} µs (a key press); "
                    f"{words} µs (words, free-text scan) | {_yes(max(key, words) <= TARGET_STEP_US)} |")
    return rows


def _each_round(run: dict[str, Any], concurrency: int) -> str:
    """'; median of 3 alternated rounds: 26.1% / 28.0% / 27.4%' (nothing for a run of one round)."""
    ratios = [r["ratio"] for r in run.get("rounds") or [] if r["concurrency"] == concurrency]
    if len(ratios) < 2:
        return ""
    return f"; median of {len(ratios)} alternated rounds: " + " / ".join(f"{v:.1%}" for v in ratios)


def _load_tables(r: dict[str, Any]) -> list[str]:
    out = []
    for run in r.get("load") or []:
        out += [f"#### {run['database']}", "",
                "| c | app | req/s | p50 ms | p95 ms | p99 ms | own p50 / p99 ms | errors | server CPU µs/req "
                "| database CPU µs/req | worker RSS MB | generator CPU µs/req | other load (cores) |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for base, hl in _pairs(run):
            for p in (base, hl):
                name = "help line" if p["app"] == "helpline" else "baseline"
                out.append(f"| {p['concurrency']} | {name} | {p['rps']:.0f} | {_ms(p['p50_ms'])} | {_ms(p['p95_ms'])} "
                           f"| {_ms(p['p99_ms'])} | {_own(p)} | {p['errors']} | {p['server_cpu_us_per_request']:.0f} "
                           f"| {p.get('database_cpu_us_per_request', 0):.0f} "
                           f"| {' + '.join(f'{m:.0f}' for m in p['worker_rss_mb'])} "
                           f"| {p['generator_cpu_us_per_request']:.0f} | {p['other_cpu_cores']:.2f} |")
            out.append(f"| {hl['concurrency']} | **ratio** | **{hl['rps'] / base['rps']:.1%}** "
                       f"| {_each_round(run, hl['concurrency']).strip(' ;')} | | | | | | | | | |")
        out.append("")
        census = run.get("census") or {}
        if census:
            out += [_census(census) + " (Ten-second runs stop most conversations part way through.)", ""]
    return out


def _scale_tables(r: dict[str, Any]) -> list[str]:
    out = []
    for run in r.get("scale") or []:
        out += [f"#### {run['database']}", "",
                "| interactions preloaded | load time s | req/s (median round) | req/s each round | p50 ms | p99 ms "
                "| errors | server CPU µs/req | other load (cores) | a turn alone µs (median; range of its batches) "
                "| queue page ms (median / p95) | queue rows ms | case timeline ms |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for s in run["sizes"]:
            p, pg = s["point"], s.get("pages") or {}

            def cell(key: str) -> str:
                if not pg.get("available"):
                    return "n/a"
                v = pg.get(key)
                return f"{v['median_ms']} / {v['p95_ms']}" if v else "-"
            rounds = " / ".join(f"{q['rps']:.0f}" for q in s.get("rounds") or [p])
            out.append(f"| {s['interactions']:,} | {s['loaded'].get('seconds', 0)} | {p['rps']:.0f} | {rounds} "
                       f"| {_ms(p['p50_ms'])} "
                       f"| {_ms(p['p99_ms'])} | {p['errors']} | {p['server_cpu_us_per_request']:.0f} "
                       f"| {p['other_cpu_cores']:.2f} | {_alone(s)} | {cell('queue_page')} | {cell('queue_rows')} "
                       f"| {cell('case_timeline')} |")
        pages = run["sizes"][-1].get("pages") or {}
        if not pages.get("available"):
            out.append(f"\nStaff pages: {pages.get('reason', 'not measured')}.")
        out.append("")
    return out


def _alone(size: dict[str, Any]) -> str:
    """The turn alone (wall µs a turn): the median, then the fastest and slowest batch."""
    if not size.get("alone"):
        return "-"
    walls = [r["wall_us"] for r in size["alone"]]
    return f"{size['alone_median']['wall_us']:.0f}; {min(walls):.0f}-{max(walls):.0f} over {len(walls)}"


def _micro_table(r: dict[str, Any]) -> list[str]:
    micro = r.get("micro") or {}
    if not micro:
        return []
    out = ["| what | best µs | median µs |", "|---|---|---|"]
    for name, m in micro.items():
        if "best_us" in m:
            out.append(f"| {name.replace('_', ' ')} | {m['best_us']:,} | {m['median_us']:,} |")
    for name, m in micro.items():
        if "cpu_us" in m:
            out.append(f"| {name.replace('_', ' ')} (whole signed turn, Flask test client, no gunicorn) "
                       f"| {m['cpu_us']:,} CPU | {m['wall_us']:,} wall |")
    return out + [""]


def _soak_table(r: dict[str, Any]) -> list[str]:
    soak = r.get("soak")
    if not soak:
        return ["Not run in this set of results.", ""]
    out = [f"{soak['minutes']} minutes at c={soak['concurrency']} on {soak['database']}, memory of each worker read "
           "after every minute.", "", "| minute | req/s | p99 ms | own p50 / p99 ms | errors | worker RSS MB |",
           "|---|---|---|---|---|---|"]
    for s in soak["samples"]:
        p = s.get("point")
        rss = " + ".join(f"{m:.0f}" for m in s["rss_mb"])
        if p:
            out.append(f"| {s['minute']} | {p['rps']:.0f} | {_ms(p['p99_ms'])} | {_own(p)} | {p['errors']} | {rss} |")
        else:
            out.append(f"| {s['minute']} (after warm-up) | | | | | {rss} |")
    total_errors = sum((s.get("point") or {}).get("errors", 0) for s in soak["samples"])
    first = soak["samples"][1]["rss_mb"] if len(soak["samples"]) > 1 else soak["samples"][0]["rss_mb"]
    last = soak["samples"][-1]["rss_mb"]
    growth = sum(last) - sum(first)
    out += ["", f"Errors in all: {total_errors}. Worker memory from the end of minute 1 to the end: "
            f"{sum(first):.0f} → {sum(last):.0f} MB ({growth:+.1f} MB).", ""]
    census = soak.get("census") or {}
    if census:
        out += [_census(census), ""]
    return out


def _census(census: dict[str, Any]) -> str:
    by: dict[str, int] = {}
    for row in census.get("conversations_by", []):
        key = row["disposition"] or "none yet"
        by[key] = by.get(key, 0) + row["count"]
    return (f"Left in the database: {census.get('conversation', 0):,} conversations, "
            f"{census.get('interaction', 0):,} interactions, {census.get('callback', 0):,} callbacks; "
            "conversations by disposition: " + ", ".join(f"{k} {v:,}" for k, v in sorted(by.items())) + ".")


def _mix_table(r: dict[str, Any]) -> list[str]:
    mix = r.get("mix") or []
    out = ["| persona | channel | share of conversations | requests | ends with |", "|---|---|---|---|---|"]
    for m in mix:
        out.append(f"| {m['persona'].replace('_', ' ')} | {m['channel']} | {m['share']:.0%} | {m['requests']} "
                   f"| {m['disposition'] or '-'} ({m['status']}) |")
    return out + [""]


def charts(r: dict[str, Any], folder: Path = CHARTS) -> list[Path]:
    """Latency against concurrency and against database size, as SVG."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "helpline-bench"
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    made = []
    if r.get("load"):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for run in r["load"]:
            for app, style in (("helpline", "-"), ("minimal", ":")):
                pts = sorted((p for p in run["points"] if p["app"] == app), key=lambda p: p["concurrency"])
                cs = [p["concurrency"] for p in pts]
                name = f"{'help line' if app == 'helpline' else 'baseline'}, {run['database']}"
                axes[0].plot(cs, [p["p50_ms"] for p in pts], style, marker="o", label=f"{name} p50")
                axes[0].plot(cs, [p["p99_ms"] for p in pts], style, marker="^", label=f"{name} p99")
                axes[1].plot(cs, [p["rps"] for p in pts], style, marker="o", label=name)
        axes[0].axhline(TARGET_P99_MS, color="grey", linewidth=0.8)
        axes[0].set(xscale="log", yscale="log", xlabel="concurrent connections", ylabel="latency, ms",
                    title="Latency against concurrency")
        axes[1].set(xscale="log", xlabel="concurrent connections", ylabel="requests per second",
                    title="Throughput against concurrency")
        for ax in axes:
            ax.set_xticks([8, 32, 128], ["8", "32", "128"])
            ax.legend(fontsize=6)
        fig.tight_layout()
        path = folder / "latency-vs-concurrency.svg"
        fig.savefig(path, metadata={"Date": None})
        plt.close(fig)
        made.append(path)
    if r.get("scale"):
        fig, ax = plt.subplots(figsize=(6, 4))
        for run in r["scale"]:
            sizes = sorted(run["sizes"], key=lambda s: s["interactions"])
            xs = [max(s["interactions"], 1_000) for s in sizes]
            ax.plot(xs, [s["point"]["p50_ms"] for s in sizes], "-", marker="o", label=f"{run['database']} p50")
            ax.plot(xs, [s["point"]["p99_ms"] for s in sizes], "--", marker="^", label=f"{run['database']} p99")
        ax.set(xscale="log", xlabel="interactions in the database (empty plotted at 1,000)", ylabel="latency, ms",
               title="Turn latency at c=32 against database size")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = folder / "latency-vs-size.svg"
        fig.savefig(path, metadata={"Date": None})
        plt.close(fig)
        made.append(path)
    return made


def _cpu(p: dict[str, Any]) -> float:
    """CPU µs a request, all of it: gunicorn's master and workers, PostgreSQL's server, the generator."""
    return (p["server_cpu_us_per_request"] + p.get("database_cpu_us_per_request", 0.0)
            + p["generator_cpu_us_per_request"])


def budget(base: dict[str, Any], hl: dict[str, Any], target: float) -> dict[str, float]:
    """What the throughput target leaves for a request, from the CPU the run measured.

    Under load the machine is CPU-bound (the cores busy come near all of them), so throughput is
    the CPU it gives divided by the CPU a request takes. At the CPU the help line's run used,
    `target` times the baseline's rate allows `allowed_us` a request in all. Of that, the
    baseline's own workers (gunicorn and Flask, which every request pays) and the generator's
    share leave `room_us` for what the help line adds: its workers' CPU beyond the baseline's,
    and the database server's (`added_us`).
    """
    busy = hl["rps"] * _cpu(hl) / 1e6
    allowed = busy * 1e6 / (target * base["rps"])
    room = allowed - base["server_cpu_us_per_request"] - hl["generator_cpu_us_per_request"]
    added = hl["server_cpu_us_per_request"] - base["server_cpu_us_per_request"] + hl.get("database_cpu_us_per_request", 0.0)
    return {"busy_cores": busy, "baseline_busy_cores": base["rps"] * _cpu(base) / 1e6, "total_us": _cpu(hl),
            "allowed_us": allowed, "room_us": room, "added_us": added,
            "cut": max(1 - room / added, 0.0) if added > 0 else 0.0}


def _budget_table(r: dict[str, Any]) -> list[str]:
    rows = ["| database | app | workers µs/req | database server µs/req | generator µs/req | all µs/req "
            "| cores busy |", "|---|---|---|---|---|---|---|"]
    said = []
    for run in r.get("load") or []:
        db = run["database"]
        for base, hl in _pairs(run):
            if hl["concurrency"] != 32:
                continue
            b = budget(base, hl, TARGET_RATIO[db])
            for name, p, busy in (("baseline", base, b["baseline_busy_cores"]), ("help line", hl, b["busy_cores"])):
                rows.append(f"| {db} | {name} | {p['server_cpu_us_per_request']:.0f} "
                            f"| {p.get('database_cpu_us_per_request', 0.0):.0f} "
                            f"| {p['generator_cpu_us_per_request']:.0f} | {_cpu(p):.0f} | {busy:.2f} |")
            server = ", and the database server's" if hl.get("database_cpu_us_per_request") else ""
            verdict = (f"the help line's part must shrink by {b['cut']:.0%}" if b["cut"] > 0
                       else "the help line's part fits")
            said.append(f"- {db}: at the {b['busy_cores']:.2f} cores the help line's run kept busy, "
                        f"{TARGET_RATIO[db]:.0%} of the baseline ({TARGET_RATIO[db] * base['rps']:.0f} req/s) allows "
                        f"{b['allowed_us']:.0f} µs a request in all, against {b['total_us']:.0f} µs measured. The "
                        f"baseline's workers and the generator take {b['allowed_us'] - b['room_us']:.0f} µs of it, "
                        f"leaving {b['room_us']:.0f} µs for what the help line adds (its workers' CPU beyond the "
                        f"baseline's{server}), which took {b['added_us']:.0f} µs: {verdict}.")
    if not said:
        return []
    return ["### CPU a request at c=32, and what the throughput target leaves", "", *rows, "", *said, ""]


def figures(r: dict[str, Any]) -> str:
    m = r.get("machine") or {}
    command = next((run["command"] for run in r.get("load") or []), "")
    lines = [
        START, "",
        f"Measured {m.get('when', '?')} at commit {m.get('commit', '?')} on {m.get('cores', '?')} cores of "
        f"{m.get('cpu', '?')}, {m.get('memory_gb', '?')} GB, {m.get('os', '')}; Python {m.get('python', '')}, "
        f"SQLite {m.get('sqlite', '')}, {m.get('postgresql', '')}; {m.get('wrk', '')}; "
        + ", ".join(f"{k} {v}" for k, v in (m.get("versions") or {}).items()) + ".", "",
        f"Servers (the Procfile's `web` entry, bound to loopback): `{command}`; the baseline is the same "
        "command serving `bench.minimal:app`.", "",
        "### Targets", "", *_targets(r), "",
        "### Throughput and latency against concurrency", "",
        "![latency and throughput against concurrency](benchmarks/latency-vs-concurrency.svg)", "",
        *_load_tables(r),
        *_budget_table(r),
        "### Scale: the same turn on an empty and a preloaded database", "",
        "![latency against database size](benchmarks/latency-vs-size.svg)", "",
        *_scale_tables(r),
        "### Micro benchmarks", "", *_micro_table(r),
        "### Soak", "", *_soak_table(r),
        "### The traffic", "", *_mix_table(r),
        END,
    ]
    return "\n".join(lines)


SKELETON = """# Benchmarks

{figures}
"""


def write(out: Path) -> Path:
    """Rewrite the figures in docs/benchmarks.md from the results in `out`, and redraw the charts."""
    r = _load(out)
    charts(r)
    block = figures(r)
    if DOC.exists() and START in DOC.read_text():
        text = DOC.read_text()
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1] if END in rest else ""
        DOC.write_text(before + block + after)
    else:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(SKELETON.format(figures=block))
    return DOC
