"""The model registry (ops.model_registry): champion, challengers, promotion, rollback."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from segments.core.errors import RefusedError


@dataclass
class Champion:
    model_version: str
    feature_set: str
    trained_at: datetime
    artifact_path: Path
    k: int
    as_of: date | None = None  # the as_of it was trained at: its age is measured from it


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def current_champion(con: duckdb.DuckDBPyConnection) -> Champion | None:
    row = con.execute(
        "select model_version, feature_set, trained_at, artifact_path, k, as_of "
        "from ops.model_registry where status = 'champion' order by promoted_at desc limit 1"
    ).fetchone()
    return Champion(row[0], row[1], row[2], Path(row[3]), row[4], row[5]) if row else None


def kept_back(con: duckdb.DuckDBPyConnection) -> str | None:
    """One line when the newest trained model is a challenger that did not replace the
    champion: which, when, and why (for `segments status` and the run summary)."""
    row = con.execute(
        "select model_version, as_of, reason from ops.model_registry "
        "where status = 'challenger' and trained_at > coalesce((select max(promoted_at) "
        "from ops.model_registry where status = 'champion'), timestamp '1900-01-01') "
        "order by trained_at desc limit 1"
    ).fetchone()
    if row is None:
        return None
    why = (row[2] or "").rsplit(" | ", 1)[-1].removeprefix("champion kept: ")
    return f"challenger {row[0]} (as of {row[1]}) kept back: {why}"


def register_model(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    version: str,
    as_of: date,
    feature_set: str,
    result: Any,
    chosen: dict,
    artifact: Path,
    n_rows: int,
    catalog: pd.DataFrame,
    promote: bool,
    reason: str,
    backtest: dict[str, Any] | None = None,
    backtest_rows: pd.DataFrame | None = None,
    embedding: Any = None,
) -> None:
    """Write the version, its candidates, catalog, backtest and embedding in one transaction."""
    now = _now()
    metrics = {
        k: chosen.get(k)
        for k in (
            "silhouette",
            "davies_bouldin",
            "calinski_harabasz",
            "wcss",
            "bic",
            "noise_share",
            "smallest_share",
            "stability",
            "objective",
            "backtest_eta2",
            "backtest_retention_spread",
        )
    }
    metrics["selection_mode"] = result.model.metadata.get("selection_mode")
    if embedding is not None:
        metrics["pca_explained_variance"] = list(embedding.explained_variance)
    con.execute("begin transaction")
    try:
        if promote:
            con.execute(
                "update ops.model_registry set status = 'retired' where status = 'champion'"
            )
        con.execute(
            "insert or replace into ops.model_registry values ($v, $now, $run, $as_of, $fs, $alg, "
            "$params, $k, $metrics, $backtest, $rows, $checksum, $path, $status, $reason, $promoted)",
            {
                "v": version,
                "now": now,
                "run": run_id,
                "as_of": as_of,
                "fs": feature_set,
                "alg": result.model.algorithm,
                "params": json.dumps(result.model.params, default=str),
                "k": result.model.k,
                "metrics": json.dumps(metrics, default=float),
                "backtest": json.dumps(backtest, default=str) if backtest else None,
                "rows": n_rows,
                "checksum": result.model.checksum,
                "path": str(artifact),
                "status": "champion" if promote else "challenger",
                "reason": reason,
                "promoted": now if promote else None,
            },
        )
        candidates = result.candidates.assign(
            run_id=run_id, model_version=version, recorded_at=now
        )
        candidates["params"] = candidates["params"].map(
            lambda p: p if isinstance(p, str) else json.dumps(p, default=str)
        )
        columns = [r[0] for r in con.execute("describe ops.model_candidates").fetchall()]
        con.register("_candidates", candidates[[c for c in columns if c in candidates]])
        con.execute("insert into ops.model_candidates by name select * from _candidates")
        con.unregister("_candidates")
        con.execute("delete from ops.segment_catalog where model_version = $v", {"v": version})
        con.register("_catalog", catalog.assign(model_version=version))
        con.execute(
            "insert into ops.segment_catalog by name select model_version, segment_id, "
            "segment_name, description, action, centroid, rule from _catalog"
        )
        con.unregister("_catalog")
        _insert_embedding(con, version, result.model, embedding)
        con.execute("delete from ops.backtests where model_version = $v", {"v": version})
        if backtest_rows is not None:
            con.register(
                "_backtests",
                backtest_rows.assign(model_version=version, run_id=run_id, recorded_at=now),
            )
            con.execute("insert into ops.backtests by name select * from _backtests")
            con.unregister("_backtests")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def _insert_embedding(
    con: duckdb.DuckDBPyConnection, version: str, model: Any, embedding: Any
) -> None:
    """The training run's 2-D views, with stable segment ids (catalog ids)."""
    con.execute("delete from ops.model_embeddings where model_version = $v", {"v": version})
    if embedding is None:
        return
    ids = model.metadata.get("segment_ids") or list(range(model.k))
    for method, points in (("pca", embedding.pca), ("tsne", embedding.tsne)):
        frame = points.assign(
            model_version=version,
            method=method,
            customer_id=points["customer_id"].astype(str),
            segment_id=[int(ids[int(s)]) for s in points["segment_id"]],
        )
        con.register("_embedding", frame)
        con.execute(
            "insert into ops.model_embeddings by name select model_version, method, "
            "customer_id, segment_id, x, y from _embedding"
        )
        con.unregister("_embedding")


def rollback_model(con: duckdb.DuckDBPyConnection, model_version: str) -> dict[str, Any]:
    """Make a registered version champion again; scoring uses it from the next run."""
    row = con.execute(
        "select status, artifact_path from ops.model_registry where model_version = $v",
        {"v": model_version},
    ).fetchone()
    if row is None:
        known = [
            v
            for (v,) in con.execute(
                "select model_version from ops.model_registry order by trained_at desc"
            ).fetchall()
        ]
        raise RefusedError(f"unknown model version {model_version!r}; registered: {known}")
    if not Path(row[1]).exists():
        raise FileNotFoundError(
            f"the artifact of {model_version} is gone ({row[1]}); it cannot score any more"
        )
    previous = current_champion(con)
    con.execute("begin transaction")
    con.execute("update ops.model_registry set status = 'retired' where status = 'champion'")
    con.execute(
        "update ops.model_registry set status = 'champion', promoted_at = $now, "
        "reason = coalesce(reason, '') || ' | rolled back to' where model_version = $v",
        {"v": model_version, "now": _now()},
    )
    con.execute("commit")
    return {
        "champion": model_version,
        "previous_champion": previous.model_version if previous else None,
    }
