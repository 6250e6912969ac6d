"""The `segments` commands: demo data, ingest, the nightly run, score-recent, status, export, rollback,
backfill, forget, rebuild, serve, watch and the lookup api. Every command that writes under
SEGMENTS_HOME takes the warehouse lock, and every one that writes the warehouse opens a run
(the lock and an ops.runs row), like the flows do; every command first checks the settings and
the PII key and sets the file mode (segments/core/startup.py). A known failure is one message
and a documented exit code (segments.core.errors); `--debug` shows tracebacks and library logs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from segments.api import DEFAULT_HOST, DEFAULT_PORT
from segments.features import DEFAULT_FEATURE_SET, FEATURE_SETS
from segments.lifecycle import RETRAIN_MODES

app = typer.Typer(
    help="Customer segmentation pipeline (Prefect + DuckDB + scikit-learn). Exit codes: "
    "0 done, 2 bad arguments/settings/mapping, 3 quality gate, 4 load failed, 5 nothing to "
    "publish, 6 refused, 75 busy (see README).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


FEATURE_SET_NAMES = tuple(FEATURE_SETS)  # help lists every feature set, from its definition


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks and library logs.")
    ] = False,
) -> None:
    """Before any command: bad settings or a weak production key stop here (exit 2)."""
    from segments.core.startup import start_process
    from segments.settings import Settings

    start_process(Settings())


def _params(model: type, **values: Any) -> Any:
    """Flow parameters checked like the Prefect UI checks them; a refusal is exit 2."""
    from pydantic import ValidationError

    try:
        return model(**values)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'parameters'}: {e['msg']}"
            for e in error.errors()
        )
        typer.echo(f"error: invalid parameters: {problems}", err=True)
        raise typer.Exit(2) from None


def _date(value: str | None, option: str) -> date | None:
    """A YYYY-MM-DD argument, refused as a usage error (exit 2) when it is no real date."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date; use YYYY-MM-DD (e.g. 2026-01-31)", param_hint=option
        ) from None


@contextmanager
def _command_run(
    command: str, *, keep_open: bool = False, **params: Any
) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A command that writes: the warehouse lock and an ops.runs row, as a flow run has
    (`keep_open`: the warehouse stays open for the whole command, see open_run)."""
    from segments.core.runs import open_run
    from segments.publish import prepare_and_recover
    from segments.report import write_status_snapshot
    from segments.settings import Settings

    run_id = f"cli-{datetime.now():%Y%m%d%H%M%S}-{os.getpid()}"
    with open_run(
        Settings(),
        run_id,
        command,
        params=params,
        prepare=prepare_and_recover,
        finish=write_status_snapshot,
        keep_open=keep_open,
    ) as opened:
        yield opened


def _quiet_prefect() -> None:
    """Offline-friendly defaults for a local run; explicit environment settings still win."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def _yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


@app.command()
def demo(
    customers: Annotated[int | None, typer.Option(help="Number of customers.", min=10)] = None,
    lines: Annotated[int | None, typer.Option(help="Target transaction lines.", min=1)] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed (default SEGMENTS_SEED).", min=0, max=2**32 - 1)
    ] = None,
    end_date: Annotated[
        str | None,
        typer.Option(help="Last day of demo history, YYYY-MM-DD (default yesterday, UTC)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Landing folder (default SEGMENTS_HOME/landing).")
    ] = None,
) -> None:
    """Write deterministic demo source files into the landing folder (same options, same bytes)."""
    from segments.core.locks import warehouse_lock
    from segments.demo import generate_demo
    from segments.settings import Settings

    settings = Settings()
    last_day = _date(end_date, "--end-date") or _yesterday()
    target = out or settings.landing_dir
    with warehouse_lock(  # landing files of a home are written by one writer at a time too
        settings.home, "segments demo", timeout_s=settings.lock_timeout_seconds
    ):
        counts = generate_demo(
            target,
            customers=customers,
            lines=lines,
            seed=settings.seed if seed is None else seed,
            end_date=last_day,
        )
    typer.echo(f"demo data written to {target} (history ends {last_day})")
    for key, value in counts.items():
        typer.echo(f"  {key}: {value:,}")


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="Built-in source name or a mapping .yaml file.")],
    path: Annotated[Path, typer.Argument(help="A file or a folder of files.", exists=True)],
) -> None:
    """Load one file or folder through a named source mapping (exit 4 if a file failed)."""
    from segments.core.db import connect
    from segments.core.errors import SegmentsError
    from segments.ingest import ingest_one

    opened = _command_run("ingest_source", keep_open=True, source=source, path=str(path))
    try:
        with (
            opened as (ctx, _),
            ctx.stage("ingest") as details,
            connect(ctx.settings) as con,
        ):
            results = ingest_one(con, ctx.settings, source, path, ctx.run_id, _progress())
            details["loads"] = [r.as_dict() for r in results]
    except SegmentsError:
        raise
    except (ValueError, FileNotFoundError) as exc:  # a mapping or path the user named
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
    raise typer.Exit(4 if failed else 0)


def _progress(after_seconds: float = 2.0) -> Any:
    """Progress lines on stderr for a load that takes more than a moment."""
    import time

    started = time.monotonic()
    last = [""]

    def show(what: str, fraction: float) -> None:
        if time.monotonic() - started >= after_seconds and what != last[0]:
            typer.echo(f"  [{fraction:4.0%}] {what}", err=True)
            last[0] = what

    return show


sources_app = typer.Typer(help="Source mappings: check one against a file.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")


@sources_app.command("check")
def sources_check(
    mapping: Annotated[str, typer.Argument(help="Built-in source name or a mapping .yaml file.")],
    file: Annotated[Path, typer.Argument(help="The file to try.", exists=True, dir_okay=False)],
    rows: Annotated[int, typer.Option(help="Typed rows to show.")] = 10,
) -> None:
    """Dry run of a load: typed first rows, quarantine reasons with counts; writes nothing."""
    from segments.ingest import check_source
    from segments.settings import Settings

    try:
        report = check_source(Settings(), mapping, file, rows=rows)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for line in report.lines():
        typer.echo(line)
    raise typer.Exit(4 if report.result.status == "failed" else 0)  # the load would fail


@app.command()
def run(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="YYYY-MM-DD (default today, UTC).")
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
    from flows.params import NightlyParams
    from segments.settings import Settings

    params = _params(
        NightlyParams,
        as_of=_date(as_of, "--as-of"),
        retrain=retrain,
        feature_set=feature_set,
        promote=promote,
    )
    Settings()  # bad SEGMENTS_* variables stop here (see main), before any server or file
    from flows.nightly_segmentation import nightly_segmentation
    from segments.cli.prefect_api import prefect_api
    from segments.cli.warm import warm_up

    with prefect_api(meanwhile=warm_up):
        summary = nightly_segmentation(params)
    published = summary.get("publish", {})
    typer.echo(
        f"published {published.get('rows', 0):,} customers in "
        f"{len(published.get('segments', {}))} segments as of {summary['as_of']} "
        f"(run {summary['run_id']}); report: {summary.get('report')}"
    )
    train = summary.get("train", {})
    if train.get("kept_back"):  # the champion still scores: say so, and why (as status does)
        why = train["promotion_reason"].removeprefix("champion kept: ")
        typer.echo(
            f"challenger {train['model_version']} (as of {summary['as_of']}) kept back: {why}"
        )


@app.command("score-recent")
def score_recent_cmd() -> None:
    """Re-segment only the customers loaded since the last publish, at the served as_of, with
    the champion (no retrain); exit 5 before the first `segments run`."""
    _quiet_prefect()
    from segments.settings import Settings

    Settings()  # bad SEGMENTS_* variables stop here (see main), before any server or file
    from flows.score_recent import score_recent
    from segments.cli.prefect_api import prefect_api

    with prefect_api():
        summary = score_recent()
    plan = summary["plan"]
    if not plan["touched"]:
        typer.echo(f"nothing loaded since the last publish; {plan['as_of']} stays served as is")
        return
    published = summary["publish"]
    changes = ", ".join(f"{n} {why}" for why, n in published["changes"].items()) or "none"
    typer.echo(
        f"re-scored {summary['score']['customers']:,} of {plan['touched']:,} touched customers "
        f"({plan['loads']} loads) as of {plan['as_of']}: changes {changes}; history from "
        f"{published['valid_from']} (run {summary['run_id']})"
    )


@app.command()
def status() -> None:
    """What is served (as_of, run, model), the report, the champion and its age, the last runs
    with their full failure reasons, row counts. Safe while a run works."""
    from segments.report import status_report
    from segments.settings import Settings

    typer.echo(status_report(Settings()))


@app.command()
def export(
    as_of: Annotated[str | None, typer.Option("--as-of", help="A published date.")] = None,
) -> None:
    """Full CRM snapshot of a publish (change files are written by every publish)."""
    from segments.publish import export_snapshot

    day = _date(as_of, "--as-of")
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

    params = _params(WatchParams, interval_seconds=interval)
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
    step_days: Annotated[int, typer.Option(help="Days between runs.", min=1)] = 7,
) -> None:
    """Run the nightly pipeline for a range of as_of dates."""
    _quiet_prefect()
    from flows.params import BackfillParams

    params = _params(
        BackfillParams, start=_date(start, "START"), end=_date(end, "END"), step_days=step_days
    )
    from flows.backfill_segments import backfill_segments
    from segments.cli.prefect_api import prefect_api
    from segments.cli.warm import warm_up

    with prefect_api(meanwhile=warm_up):
        results = backfill_segments(params)
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


@app.command()
def rebuild(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Features as of YYYY-MM-DD (default: their as_of now)."),
    ] = None,
) -> None:
    """Recompute every derived layer from staging (the incremental path must equal it)."""
    from segments.core.db import connect
    from segments.features import rebuild_features
    from segments.ingest import refresh_staging

    day = _date(as_of, "--as-of")
    with _command_run("rebuild", as_of=as_of) as (ctx, summary):
        with ctx.stage("staging") as staged, connect(ctx.settings) as con:
            staged["rows"] = refresh_staging(con, ctx.settings)
        # a stage of its own: what a night's features stage would cost without increments
        with ctx.stage("rebuild") as details, connect(ctx.settings) as con:
            details.update(rebuild_features(con, ctx.settings, day))  # ConfigError: exit 2
        summary.update(details, staging_rows=staged["rows"])
    changed = details["aggregates_changed"]
    typer.echo(
        f"rebuilt from staging: {details['rows'].get('customer_features', 0):,} customers' "
        f"features as of {details['as_of']}; "
        + (
            "the incremental aggregates were already exact"
            if not changed
            else f"aggregates that differed and were replaced: {', '.join(changed)}"
        )
    )


def main() -> None:
    """The console script: settings checked first, then the command; failures as one message."""
    from segments.cli.errors import run_cli

    run_cli(app)


if __name__ == "__main__":
    main()
