"""python -m bench [suites ...] [--smoke] [--databases sqlite,postgresql] [--duration 10] ...

Suites: micro, load, scale, soak (all four by default), then the report (docs/benchmarks.md);
`profile` samples the workers under load with py-spy, `turns` times whole turns in-process in
one and in four processes, `instructions` counts the instructions of a turn under valgrind
(these three only when named).
`--smoke` runs everything briefly on SQLite (PostgreSQL too when HELPLINE_BENCH_DATABASE_URL is
set), prints the figures and writes no docs: it checks the harness, never the timings.
"""
from __future__ import annotations

import argparse
import signal
import sys
from dataclasses import fields
from pathlib import Path

from . import report
from .run import RESULTS, Options, run

SUITES = ("micro", "load", "scale", "soak")
EXTRA = ("profile", "turns", "instructions")  # run only when named


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def main(argv: list[str] | None = None) -> int:
    # A TERM (or a CI timeout) unwinds like an error, so every server this run started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="*", help=f"any of {', '.join(SUITES)}, report (default: all, then report)")
    parser.add_argument("--smoke", action="store_true", help="a few seconds: check the harness works")
    parser.add_argument("--databases", default=None, help="sqlite,postgresql (default both)")
    parser.add_argument("--concurrency", type=_ints, default=None, help="default 8,32,128")
    parser.add_argument("--duration", type=float, default=None, help="seconds per point (default 10)")
    parser.add_argument("--soak-minutes", type=int, default=None, help="default 10")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default bench/results)")
    parser.add_argument("--no-report", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args(argv)
    unknown = set(args.suites) - {*SUITES, *EXTRA, "report"}
    if unknown:
        parser.error(f"unknown suite(s): {', '.join(sorted(unknown))}")

    opts = Options.for_smoke() if args.smoke else Options()
    if args.databases:
        opts.databases = tuple(args.databases.split(","))
    if args.concurrency:
        opts.concurrency = args.concurrency
    if args.duration:
        opts.duration = args.duration
    if args.soak_minutes:
        opts.soak_minutes = args.soak_minutes
    if args.out:
        opts.out = args.out
    elif args.smoke:
        opts.out = RESULTS / "smoke"
    suites = tuple(s for s in args.suites if s != "report") or (() if args.suites == ["report"] else SUITES)

    if suites:
        results = run(opts, suites)
        print(report.summary(results))
    if rewrites_doc(args.suites, opts, args.smoke or args.no_report):
        path = report.write(opts.out)
        print(f"wrote {path}")
    elif suites:
        print(f"results in {opts.out}; docs/benchmarks.md left as it is (only a full run or `report` rewrites it)")
    return 0


def rewrites_doc(named: list[str], opts: Options, held: bool) -> bool:
    """Whether this run rewrites docs/benchmarks.md: after every suite the page shows, on both
    databases and at the usual concurrencies, or when asked for `report` alone. A narrower run
    (one suite, one database, an extra suite) would put its figures, or none, beside older ones
    under one commit's name."""
    if held:
        return False
    if named == ["report"]:
        return True
    ran = {s for s in named if s != "report"} or set(SUITES)
    default = {f.name: f.default for f in fields(Options)}
    return (ran >= set(SUITES) and set(opts.databases) == set(default["databases"])
            and tuple(opts.concurrency) == default["concurrency"])


if __name__ == "__main__":
    sys.exit(main())
