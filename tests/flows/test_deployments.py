"""prefect.yaml, the typed parameters the UI renders, and the one-writer lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from flows.params import BackfillParams, NightlyParams, RetrainParams
from segments.cli.serve import build_deployments, deployment_specs
from segments.core.locks import WarehouseBusyError, warehouse_lock

PROJECT = Path(__file__).resolve().parents[2]


def test_prefect_yaml_declares_every_deployment():
    specs = {d["name"]: d for d in deployment_specs(PROJECT)}
    assert set(specs) == {
        "nightly",
        "retrain",
        "ingest-source",
        "backfill",
        "rollback-model",
        "forget",
        "watch",
        "score-recent",
    }
    nightly = specs["nightly"]
    assert nightly["schedules"][0]["cron"] == "0 2 * * *"
    assert nightly["work_pool"]["name"] == "segments-local"
    assert all(d["concurrency_limit"]["limit"] == 1 for d in specs.values())
    for spec in specs.values():  # every entrypoint exists and names a flow in that file
        path, func = spec["entrypoint"].split(":")
        assert f"def {func}(" in (PROJECT / path).read_text()


def test_serve_builds_the_same_deployments_with_a_timezone_override():
    deployments = {d.name: d for d in build_deployments(PROJECT, timezone="Europe/London")}
    nightly = deployments["nightly"]
    assert nightly.schedules[0].schedule.cron == "0 2 * * *"
    assert nightly.schedules[0].schedule.timezone == "Europe/London"
    assert nightly.parameters["params"]["retrain"] == "auto"
    assert nightly.concurrency_limit == 1 or nightly.concurrency_limit.limit == 1
    assert not deployments["backfill"].schedules
    assert not nightly.triggers  # loads re-segment through score-recent, not a nightly each
    # the load trigger of prefect.yaml, served as deployed: incremental scoring per load
    (trigger,) = deployments["score-recent"].triggers
    assert trigger.expect == {"segments.load.completed"} and trigger.enabled is True
    assert trigger.match.model_dump() == {"prefect.resource.id": "segments.load.*"}
    assert not deployments["score-recent"].schedules
    assert not deployments["watch"].schedules


def test_flow_parameters_render_as_a_form():
    from flows.nightly_segmentation import nightly_segmentation

    schema = nightly_segmentation.parameters.model_dump()
    form = schema["definitions"]["NightlyParams"]["properties"]
    assert {"as_of", "retrain", "feature_set", "algorithms", "k_min", "k_max"} <= form.keys()
    assert form["retrain"]["enum"] == ["auto", "always", "never"]


@pytest.mark.parametrize(
    "bad",
    [
        {"k_min": 6, "k_max": 3},
        {"retrain": "sometimes"},
        {"feature_set": "astrology"},
        {"k_min": 1},
        {"algorithms": []},
        {"as_of": "2026-13-01"},
        {"unknown": 1},
    ],
)
def test_bad_parameters_are_refused_with_a_message(bad):
    with pytest.raises(ValidationError) as info:
        NightlyParams(**bad)
    assert str(info.value)


def test_backfill_dates_and_bounds():
    params = BackfillParams(start="2025-01-01", end="2025-01-29", step_days=7)
    assert params.dates() == [date(2025, 1, d) for d in (1, 8, 15, 22, 29)]
    with pytest.raises(ValidationError, match="after end"):
        BackfillParams(start="2025-02-01", end="2025-01-01")
    assert RetrainParams().algorithms == ["kmeans", "agglomerative", "gmm"]


def test_second_writer_waits_then_fails_naming_the_holder(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import time
        from pathlib import Path
        from segments.core.locks import warehouse_lock
        with warehouse_lock(Path({str(tmp_path)!r}), "run-A"):
            print("locked", flush=True)
            time.sleep(30)
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with (
            pytest.raises(WarehouseBusyError, match="run-A"),
            warehouse_lock(tmp_path, "run-B", timeout_s=1, poll_s=0.2),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
    # free again once A is gone, and re-entrant (a backfill's nightly subflows)
    with (
        warehouse_lock(tmp_path, "run-B", timeout_s=5),
        warehouse_lock(tmp_path, "nested", timeout_s=0),
    ):
        pass


def test_allowed_values_come_from_their_one_definition():
    """The UI's choices, the CLI help and prefect.yaml all follow the library's lists."""
    from typer.testing import CliRunner

    from flows.nightly_segmentation import nightly_segmentation
    from flows.params import ForgetParams, IngestParams, RollbackParams, WatchParams
    from segments.cli import app
    from segments.features import FEATURE_SETS
    from segments.lifecycle import RETRAIN_MODES
    from segments.models import ALGORITHMS

    form = nightly_segmentation.parameters.model_dump()["definitions"]["NightlyParams"]
    form = form["properties"]
    assert form["retrain"]["enum"] == list(RETRAIN_MODES)
    assert form["feature_set"]["enum"] == list(FEATURE_SETS)
    assert form["algorithms"]["items"]["enum"] == list(ALGORITHMS)
    help_text = CliRunner().invoke(app, ["run", "--help"], terminal_width=240).output
    assert all(name in help_text for name in (*FEATURE_SETS, *RETRAIN_MODES)), help_text
    params = {
        "nightly_segmentation": NightlyParams,
        "retrain_segments": RetrainParams,
        "ingest_source": IngestParams,
        "backfill_segments": BackfillParams,
        "rollback_model": RollbackParams,
        "forget_customers": ForgetParams,
        "watch_landing": WatchParams,
    }
    for spec in deployment_specs(PROJECT):  # every deployment's parameters validate
        if spec["entrypoint"].endswith(":score_recent"):  # no parameters: nothing to set
            assert not spec.get("parameters")
            continue
        model = params[spec["entrypoint"].split(":")[1]]
        for value in (spec.get("parameters") or {}).values():
            model.model_validate(value)
