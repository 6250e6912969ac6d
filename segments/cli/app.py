"""The `segments` commands: demo data, ingest, the nightly run, status, export, rollback,
backfill, forget, serve, watch and the lookup api. Every command that writes under
SEGMENTS_HOME opens a run (the lock and an ops.runs row), like the flows do; every command
first checks the PII key and sets the file mode (segments/core/startup.py)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from segments.api import DEFAULT_HOST, DEFAULT_PORT
from segments.features import DEFAULT_FEATURE_SET, FEATURE_SETS
from segments.lifecycle import RETRAIN_MODES

app = typer.Typer(
    help="Customer segmentation pipeline (Prefect + DuckDB + scikit-learn).",
    no_args_is_help=True,
    add_completion=False,
)


FEATURE_SET_NAMES = tuple(FEATURE_SETS)  # help lists every feature set, from its definition


@contextmanager
def _command_run(command: str, **params: Any) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A command that writes: the warehouse lock and an ops.runs row, as a flow run has."""
    from segments.core.runs import open_run
    from segments.settings import Settings

    run_id = f"cli-{datetime.now():%Y%m%d%H%M%S}-{os.getpid()}"
    with open_run(Settings(), run_id, command, params=params) as opened:
        yield opened


@app.callback()
def _start() -> None:
    """Before any command: bad settings or a weak production key stop here (exit 2)."""
    from segments.core.startup import start_process
    from segments.settings import Settings

    start_process(Settings())


def _quiet_prefect() -> None:
    """Offline-friendly defaults for a local run; explicit environment settings still win."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@app.command()
def demo(
    customers: Annotated[int | None, typer.Option(help="Number of customers.")] = None,
    lines: Annotated[int | None, typer.Option(help="Target transaction lines.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (default SEGMENTS_SEED).")] = None,
    end_date: Annotated[str, typer.Option(help="Last day of demo history.")] = "2025-12-31",
    out: Annotated[
        Path | None, typer.Option(help="Landing folder (default SEGMENTS_HOME/landing).")
    ] = None,
) -> None:
    """Write deterministic demo source files into the landing folder."""
    from segments.demo import generate_demo
    from segments.settings import Settings

    settings = Settings()
    target = out or settings.landing_dir
    counts = generate_demo(
        target,
        customers=customers,
        lines=lines,
        seed=settings.seed if seed is None else seed,
        end_date=date.fromisoformat(end_date),
    )
    typer.echo(f"demo data written to {target}")
    for key, value in counts.items():
        typer.echo(f"  {key}: {value:,}")


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="Built-in source name or a mapping .yaml file.")],
    path: Annotated[Path, typer.Argument(help="A file or a folder of files.", exists=True)],
) -> None:
    """Load one file or folder through a named source mapping."""
    from segments.core.db import connect
    from segments.ingest import ingest_one

    try:
        with (
            _command_run("ingest_source", source=source, path=str(path)) as (ctx, _),
            ctx.stage("ingest") as details,
            connect(ctx.settings) as con,
        ):
            results = ingest_one(con, ctx.settings, source, path, ctx.run_id)
            details["loads"] = [r.as_dict() for r in results]
    except (ValueError, FileNotFoundError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    failed = False
    for r in results:
        typer.echo(
            f"{r.status:8} {r.path}: read {r.rows_read:,}, staged {r.rows_staged:,}, "
            f"quarantined {r.rows_quarantined:,}, duplicates {r.duplicates:,}"
            + (f"\n         {r.message}" if r.message else "")
        )
        failed |= r.status == "failed"
    raise typer.Exit(1 if failed else 0)


@app.command()
def run(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="YYYY-MM-DD (default today).")
    ] = None,
    retrain: Annotated[str, typer.Option(help=" | ".join(RETRAIN_MODES))] = "auto",
    feature_set: Annotated[
        str, typer.Option(help=" | ".join(FEATURE_SET_NAMES))
    ] = DEFAULT_FEATURE_SET,
    promote: Annotated[
        bool,
        typer.Option(
            "--promote", help="Make a newly trained model champion even if the rule keeps the old."
        ),
    ] = False,
) -> None:
    """Run the nightly flow once, now, on this machine."""
    _quiet_prefect()
    from flows.nightly_segmentation import nightly_segmentation
    from flows.params import NightlyParams
    from segments.settings import Settings

    try:
        params = NightlyParams(
            as_of=as_of, retrain=retrain, feature_set=feature_set, promote=promote
        )
    except ValidationError as exc:
        typer.echo(f"invalid parameters: {exc}", err=True)
        raise typer.Exit(2) from exc
    Settings()  # bad SEGMENTS_* variables stop here (see main), before any server or file
    summary = nightly_segmentation(params)
    published = summary.get("publish", {})
    typer.echo(
        f"published {published.get('rows', 0):,} customers in "
        f"{len(published.get('segments', {}))} segments (run {summary['run_id']})"
    )
    train = summary.get("train", {})
    if train.get("kept_back"):  # the champion still scores: say so, and why (as status does)
        why = train["promotion_reason"].removeprefix("champion kept: ")
        typer.echo(
            f"challenger {train['model_version']} (as of {summary['as_of']}) kept back: {why}"
        )


@app.command()
def status() -> None:
    """Last runs and their stages, the champion model, row counts."""
    from segments.report import status_report
    from segments.settings import Settings

    typer.echo(status_report(Settings()))


@app.command()
def export(
    as_of: Annotated[str | None, typer.Option("--as-of", help="A published date.")] = None,
) -> None:
    """Full CRM snapshot of a publish (change files are written by every publish)."""
    from segments.publish import export_snapshot

    day = date.fromisoformat(as_of) if as_of else None
    with _command_run("export_segments", as_of=as_of) as (ctx, summary):
        paths = export_snapshot(ctx.settings, day)
        summary["files"] = [str(p) for p in paths.values()]
    for path in paths.values():
        typer.echo(str(path))


@app.command("serve")
def serve_cmd(
    timezone: Annotated[str | None, typer.Option(help="IANA zone for every schedule.")] = None,
) -> None:
    """Serve every deployment of prefect.yaml, with schedules, from this process."""
    _quiet_prefect()
    from segments.cli.serve import serve
    from segments.settings import Settings

    serve(Settings().project_dir, timezone)


@app.command()
def watch(
    interval: Annotated[
        float | None,
        typer.Option(help="Seconds between polls (default SEGMENTS_WATCH_INTERVAL_SECONDS)."),
    ] = None,
) -> None:
    """Load files as they land in landing/<source>/, one Prefect event per load (Ctrl-C stops)."""
    _quiet_prefect()
    from flows.params import WatchParams
    from flows.watch_landing import watch_landing
    from segments.settings import Settings

    try:
        params = WatchParams(interval_seconds=interval)
    except ValidationError as exc:
        typer.echo(f"invalid parameters: {exc}", err=True)
        raise typer.Exit(2) from exc
    settings = Settings()
    typer.echo(
        f"watching {settings.landing_dir} every "
        f"{interval or settings.watch_interval_seconds:g}s (Ctrl-C stops)"
    )
    watch_landing(params)


@app.command("api")
def api_cmd(
    host: Annotated[
        str, typer.Option(help="Address to listen on (local only by default).")
    ] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="TCP port.")] = DEFAULT_PORT,
) -> None:
    """Read-only HTTP lookup of segments over serving.duckdb (docs at /docs)."""
    from segments.api import ApiSettingsError, serve_api
    from segments.core.pii import MissingPiiKeyError
    from segments.settings import Settings

    try:
        serve_api(Settings(), host, port)
    except (ApiSettingsError, MissingPiiKeyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def rollback(
    model_version: Annotated[str, typer.Argument(help="A version from ops.model_registry.")],
) -> None:
    """Make an earlier model version the champion again."""
    from segments.core.db import connect
    from segments.lifecycle import rollback_model

    with (
        _command_run("rollback_model", model_version=model_version) as (ctx, _),
        ctx.stage("rollback") as details,
        connect(ctx.settings) as con,
    ):
        result = rollback_model(con, model_version)
        details.update(result)
    typer.echo(f"champion is now {result['champion']} (was {result['previous_champion']})")


@app.command()
def backfill(
    start: Annotated[str, typer.Argument(help="First as_of, YYYY-MM-DD.")],
    end: Annotated[str, typer.Argument(help="Last as_of, YYYY-MM-DD.")],
    step_days: Annotated[int, typer.Option(help="Days between runs.")] = 7,
) -> None:
    """Run the nightly pipeline for a range of as_of dates."""
    _quiet_prefect()
    from flows.backfill_segments import backfill_segments
    from flows.params import BackfillParams

    results = backfill_segments(BackfillParams(start=start, end=end, step_days=step_days))
    typer.echo(f"{len(results)} runs published")


@app.command()
def forget(
    ids: Annotated[
        list[str] | None, typer.Argument(help="Raw customer ids, as in the source files.")
    ] = None,
    ids_file: Annotated[
        Path | None,
        typer.Option(help="A file of raw ids, one a line (keeps them out of history)."),
    ] = None,
) -> None:
    """Erase customers everywhere under SEGMENTS_HOME and keep them out of later loads."""
    from segments.privacy import FLOW_NAME, ErasureIncompleteError, forget_customers, read_ids

    try:
        raw_ids = read_ids(ids or [], ids_file)
    except (ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        with (
            _command_run(FLOW_NAME, customers=len(raw_ids)) as (ctx, summary),
            ctx.stage("forget") as details,
        ):
            details.update(forget_customers(ctx.settings, raw_ids, run_id=ctx.run_id))
            summary.update(details)
    except ErasureIncompleteError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"erased {len(raw_ids)} customer(s): {details['rows_deleted']:,} rows, "
        f"{details['files_replaced']} files replaced; nothing under SEGMENTS_HOME names them, "
        "and later loads drop them (ops.suppressed_customers, ops.erasures)"
    )
    for place, rows in details["rows_by_place"].items():
        typer.echo(f"  {rows:>8,}  {place}")


def settings_error_message(error: ValidationError) -> str:
    """One line per bad SEGMENTS_* variable, instead of a traceback through pydantic."""
    lines = [
        f"  SEGMENTS_{'_'.join(str(part) for part in detail['loc']).upper()}="
        f"{detail.get('input')!r}: {detail['msg']}"
        for detail in error.errors()
    ]
    return "invalid settings (see the Settings table in README.md):\n" + "\n".join(lines)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore"):  # one line per API call to the local Prefect server
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from segments.core.pii import MissingPiiKeyError

    try:
        app()
    except MissingPiiKeyError as error:  # a weak key: one line, before any work
        typer.echo(f"error: {error}", err=True)
        raise SystemExit(2) from None
    except ValidationError as error:
        if error.title != "Settings":  # a bug elsewhere: keep the full traceback
            raise
        typer.echo(settings_error_message(error), err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
