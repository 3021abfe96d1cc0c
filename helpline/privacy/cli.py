"""Flask commands: purge, subject export, subject erase."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from .. import phones
from . import retention as retention_mod
from . import subject as subject_mod

# A run that touches more rows than this shows a progress bar.
PROGRESS_FROM = 2000


def _helpline():
    return current_app.extensions["helpline"]


@click.command("purge")
@click.option("--apply", "apply_", is_flag=True, help="Delete and anonymise for real (default: a dry run that only counts).")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=None, help="Rows per transaction (default: HELPLINE_PURGE_BATCH_SIZE).")
@click.option("--by", "actor", default="scheduled purge", show_default=True, help="Who ran it, for the data protection log.")
def purge(apply_: bool, batch_size: int | None, actor: str) -> None:
    """Delete or anonymise records past their retention period (a dry run unless --apply)."""
    config = dict(current_app.config)
    if batch_size is not None:
        config["PURGE_BATCH_SIZE"] = batch_size
    try:
        retention = retention_mod.Retention.from_config(config)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    now = _helpline().now()
    planned = retention_mod.plan(retention, now)
    days = ", ".join(f"{name} {n}" for name, n in retention.as_days().items())
    click.echo(f"Retention in days: {days}")
    if not apply_:
        _summary(planned, "would")
        click.echo("Dry run: nothing was changed. Run again with --apply to purge.")
        return
    if planned.total > PROGRESS_FROM:
        with click.progressbar(length=planned.total, label="Purging", file=sys.stderr) as bar:
            report = retention_mod.purge(retention, now, actor, progress=bar.update)
    else:
        report = retention_mod.purge(retention, now, actor)
    _summary(report, "did")
    click.echo(f"Purged {report.total} record(s).")


def _summary(report: retention_mod.PurgeReport, tense: str) -> None:
    verbs = {"delete": ("delete", "deleted"), "anonymise": ("anonymise", "anonymised")}
    for outcome in report.outcomes:
        verb = verbs[outcome.action][0 if tense == "would" else 1]
        verb = f"would {verb}" if tense == "would" else verb
        line = f"  {verb:<16} {outcome.rows:>9,}  {outcome.name}"
        if outcome.kept:
            line += f"  (keeps {outcome.kept})"
        click.echo(line)


subject_cli = AppGroup("subject", help="Subject rights: export or erase everything held about a phone number.")


@subject_cli.command("export")
@click.argument("number")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the files (default: HELPLINE_EXPORT_DIR, or instance/exports).")
@click.option("--by", "actor", default="operator", show_default=True, help="Who asked for it, for the data protection log.")
@click.option("--reference", default=None, help="The request's reference, e.g. SAR-2026-014.")
def subject_export(number: str, out_dir: Path | None, actor: str, reference: str | None) -> None:
    """Write everything held about NUMBER as a JSON file and a readable HTML file."""
    out_dir = out_dir or Path(current_app.config.get("EXPORT_DIR") or Path(current_app.instance_path) / "exports")
    try:
        files = subject_mod.export(_helpline(), number, out_dir, _helpline().now(), actor, reference)
    except subject_mod.SubjectError as exc:
        raise click.ClickException(str(exc)) from exc
    counts = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in files.counts.items())
    click.echo(f"Exported {phones.masked(subject_mod.normalise(number))}: {counts}")
    click.echo(f"  {files.json_path}")
    click.echo(f"  {files.html_path}")


@subject_cli.command("erase")
@click.argument("number")
@click.option("--force", is_flag=True, help="Erase even with an open welfare check or urgent callback (needs --admin).")
@click.option("--admin", default=None, help="Email of the admin account that authorises --force.")
@click.option("--by", "actor", default="operator", show_default=True, help="Who asked for it, for the data protection log.")
@click.option("--reference", default=None, help="The request's reference, e.g. ERASE-2026-003.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def subject_erase(number: str, force: bool, admin: str | None, actor: str, reference: str | None, yes: bool) -> None:
    """Erase everything held about NUMBER (a standing STOP is kept); record that it happened."""
    admin_account = None
    if force:
        if not admin:
            raise click.UsageError("--force needs --admin <email> of an admin account")
        try:
            admin_account = subject_mod.authorise_force(admin)
        except subject_mod.SubjectError as exc:
            raise click.ClickException(str(exc)) from exc
    try:
        phone = subject_mod.normalise(number)
    except subject_mod.SubjectError as exc:
        raise click.ClickException(str(exc)) from exc
    if not yes:
        click.confirm(f"Erase everything held about {phones.masked(phone)}? This cannot be undone", abort=True)
    try:
        result = subject_mod.erase(phone, _helpline().now(), actor, force_by=admin_account, reference=reference)
    except subject_mod.SubjectError as exc:
        raise click.ClickException(str(exc)) from exc
    counts = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in result.counts.items())
    click.echo(f"Erased {phones.masked(phone)}{' (forced)' if result.forced else ''}: {counts}")
    click.echo(f"Recorded as data protection event {result.event_id}.")
