"""Which runs of `python -m bench` rewrite docs/benchmarks.md: a full run, or `report` alone.

A narrower run would put its figures (or none) in the page beside older ones, under the name of
one commit; it keeps its results in the results folder instead.
"""
from __future__ import annotations

import pytest

from bench import __main__ as cli
from bench.run import Options


def _opts(**kw) -> Options:
    return Options(workdir=None, **kw)  # no scratch folder: nothing is run


@pytest.mark.parametrize("named, kw, held, rewrites", [
    ([], {}, False, True),                                        # make bench: every suite, both databases
    (["micro", "load", "scale", "soak"], {}, False, True),
    (["report"], {}, False, True),                                # redraw from saved results
    (["micro", "load", "scale", "soak", "turns"], {}, False, True),
    (["turns"], {}, False, False),                                # an extra suite alone
    (["instructions"], {}, False, False),
    (["load"], {}, False, False),                                 # one suite of four
    ([], {"databases": ("sqlite",)}, False, False),               # one database
    ([], {"concurrency": (32,)}, False, False),                   # other concurrencies
    ([], {}, True, False),                                        # --smoke or --no-report
])
def test_only_a_full_run_or_report_rewrites_the_page(named, kw, held, rewrites):
    assert cli.rewrites_doc(named, _opts(**kw), held) is rewrites


def test_an_extra_suite_alone_leaves_the_page_as_it_is(monkeypatch, tmp_path, capsys):
    ran, written = [], []
    monkeypatch.setattr(cli, "run", lambda opts, suites: ran.append(suites) or {})
    monkeypatch.setattr(cli.report, "summary", lambda results: "")
    monkeypatch.setattr(cli.report, "write", lambda out: written.append(out))
    assert cli.main(["turns", "--out", str(tmp_path)]) == 0
    assert ran == [("turns",)] and written == []
    assert "left as it is" in capsys.readouterr().out
    assert cli.main(["report", "--out", str(tmp_path)]) == 0
    assert written == [tmp_path]
