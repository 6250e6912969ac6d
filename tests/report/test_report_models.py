"""The report's model sections read what training stored: the quality table against the
peers, the stored embedding (no t-SNE at report time), tree rules and value per segment."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from segments.core.db import connect
from segments.core.sql import apply_schema, run_layer, run_model
from segments.features import feature_params
from segments.lifecycle import score_customers, train_challenger
from segments.models import TrainConfig
from segments.report.charts import segment_colors
from segments.report.data import load_report_data
from segments.report.sections import model_section, segments_section
from segments.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lifecycle"))
from lifecycle_data import AS_OF, synthetic_lines

CONFIG = TrainConfig(k_min=3, k_max=4, n_init=2, bootstrap_rounds=2, threads=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(
        home=tmp_path_factory.mktemp("home"), min_customers=30, min_history_days=60
    )
    with connect(settings) as con:
        apply_schema(con, settings.sql_dir)
        run_model(con, settings.sql_dir, "staging", "stg_customers")
        con.register("_lines", synthetic_lines())
        con.execute("insert into staging.stg_transactions by name select * from _lines")
        run_layer(con, settings.sql_dir, "features", feature_params(AS_OF))
        train_challenger(
            con, settings, run_id="r1", as_of=AS_OF, feature_set_name="retail", config=CONFIG
        )
        score_customers(con, run_id="r1", as_of=AS_OF, feature_set_name="retail")
    return settings


def test_the_quality_table_and_the_stored_embedding(trained: Settings, monkeypatch) -> None:
    from segments.report import data as report_data

    def no_refit(*args, **kwargs):
        raise AssertionError("the report must read the embedding stored at training")

    monkeypatch.setattr(report_data, "add_embedding", no_refit)
    with connect(trained) as con:
        data = load_report_data(con, "r1")
        (stored,) = con.execute(
            "select count(*) from ops.model_embeddings where method = 'pca'"
        ).fetchone()
        pca = data.views[0]
        assert pca.method == "pca" and pca.rows == len(pca.points()) == stored
        assert pca.rows == 240
    assert list(data.quality["segmentation"]) == [
        "this model (fitted at the cutoff)",
        "named RFM segments",
        "K-means on log RFM, same k",
    ]
    assert data.quality["eta2_future_revenue"].between(0, 1).all()
    html = "".join(b for b in model_section(data).blocks if isinstance(b, str))
    assert "How good are these segments" in html and "eta2 future revenue" in html
    assert "candidate" in data.candidates and data.candidates["objective"].notna().any()
    colors = segment_colors(list(data.summary["segment_name"]))
    cards = "".join(b for b in segments_section(data, colors).blocks if isinstance(b, str))
    assert "segment" in cards
    if data.run.algorithm == "tree":
        assert "<b>Rule:</b>" in cards
    shutil.rmtree(trained.home / "reports", ignore_errors=True)


def test_a_night_reuses_the_models_charts_and_a_retrain_draws_its_own(
    trained: Settings, monkeypatch
) -> None:
    """The model-only charts (candidates, PCA, t-SNE) are drawn by the training run's report
    and kept beside the model: a night that scores with the same model draws none of them
    (nor reads the stored points) and shows the kept HTML; a retrained model draws its own."""
    from segments.report import build_report
    from segments.report import charts_model as cm
    from segments.report.chart_cache import PLACEHOLDER, cache_dir

    drawn: list[str] = []
    for name in ("embedding_chart", "metrics_chart"):
        real = getattr(cm, name)
        monkeypatch.setattr(
            cm, name, lambda *a, _real=real, _name=name, **k: drawn.append(_name) or _real(*a, **k)
        )

    def artifact(con, run_id: str) -> str:
        return con.execute(
            "select m.artifact_path from ops.scores s join ops.model_registry m "
            "using (model_version) where s.run_id = $r limit 1",
            {"r": run_id},
        ).fetchone()[0]

    def kept(folder: Path) -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in folder.glob("*.html")}

    with connect(trained) as con:
        shutil.rmtree(cache_dir(artifact(con, "r1")), ignore_errors=True)
        build_report(con, trained, "r1")  # the training run's report draws them
        assert sorted(drawn) == ["embedding_chart", "embedding_chart", "metrics_chart"]
        folder = cache_dir(artifact(con, "r1"))
        after_training = kept(folder)
        drawn.clear()
        score_customers(con, run_id="r2", as_of=AS_OF, feature_set_name="retail")
        build_report(con, trained, "r2")  # a night, no retrain
        assert drawn == [] and kept(folder) == after_training
        page = (trained.reports_dir / "r2" / "index.html").read_text(encoding="utf-8")
        for path in folder.glob("*.html"):
            assert all(
                part in page for part in path.read_text(encoding="utf-8").split(PLACEHOLDER)
            )
        (k,) = con.execute("select k from ops.model_registry").fetchone()
        other = TrainConfig(k_min=k % 4 + 2, k_max=k % 4 + 2, n_init=2, bootstrap_rounds=2)
        train_challenger(
            con, trained, run_id="r3", as_of=AS_OF, feature_set_name="retail", config=other,
            promote=True,
        )  # fmt: skip
        score_customers(con, run_id="r3", as_of=AS_OF, feature_set_name="retail")
        build_report(con, trained, "r3")  # a retrained model: its own charts
        retrained = cache_dir(artifact(con, "r3"))
    assert retrained != folder and kept(folder) == after_training
    assert sorted(drawn) == ["embedding_chart", "embedding_chart", "metrics_chart"]
    assert {n.rsplit("-", 1)[0] for n in kept(retrained)} >= {"embedding-pca", "embedding-tsne"}
    shutil.rmtree(trained.reports_dir, ignore_errors=True)
