"""Flask commands: flows check, sweep, purge, subject."""
from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

flows_cli = AppGroup("flows", help="Check and explore the scripted flows.")


@flows_cli.command("check")
@click.option("--dir", "directory", default=None, help="Flows directory (default: the configured one).")
def flows_check(directory: str | None) -> None:
    """Validate every flow; exit non-zero with file, node and reason for each problem."""
    from .engine.validate import check_directory

    flows, errors = check_directory(directory or current_app.config["FLOWS_DIR"])
    for error in errors:
        click.echo(str(error), err=True)
    if errors:
        click.echo(f"{len(errors)} problem(s) found", err=True)
        sys.exit(1)
    for flow in flows.values():
        click.echo(f"ok {flow.source_file}: {flow.id} version {flow.version} ({len(flow.nodes)} nodes)")


@click.command("sweep")
def sweep() -> None:
    """Close abandoned conversations and escalate those that raised a red flag."""
    from .conversations import sweep_idle
    hl = current_app.extensions["helpline"]
    count = sweep_idle(hl, hl.now())
    click.echo(f"closed {count} idle conversation(s)")


def register(app: Flask) -> None:
    from .flowmap import map_command  # flask --app helpline flows map
    from .simulate import simulate_command  # flask --app helpline flows simulate

    flows_cli.add_command(simulate_command)
    flows_cli.add_command(map_command)
    app.cli.add_command(flows_cli)
    app.cli.add_command(sweep)
    from .privacy.cli import purge, subject_cli  # flask --app helpline purge | subject export/erase

    app.cli.add_command(purge)
    app.cli.add_command(subject_cli)
    from .staff.cli import register as register_staff  # flask --app helpline staff create | list | unlock

    register_staff(app)
    from .notify.cli import worker_command  # flask --app helpline worker

    app.cli.add_command(worker_command)
