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
        stored = con.execute("select count(*) from ops.model_embeddings where method = 'pca'")
        assert len(data.pca) == stored.fetchone()[0] == 240
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
