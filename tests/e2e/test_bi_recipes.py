"""Every recipe of docs/bi-tools.md that can run here runs, as written, on a published home.

Code blocks are read from the doc itself, so a recipe that rots fails here. Blocks that need
what this machine lacks (Spark, the DuckDB CLI, a JDBC driver) are skipped by name.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import duckdb
import pytest

PROJECT = Path(__file__).resolve().parents[2]
DOC = PROJECT / "docs" / "bi-tools.md"
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def _blocks(kind: str) -> list[str]:
    return [body for lang, body in FENCE.findall(DOC.read_text()) if lang == kind]


def _support() -> ModuleType:
    path = PROJECT / "tests" / "publish" / "publish_world.py"
    spec = importlib.util.spec_from_file_location("publish_support", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose `.segments` home holds two publishes, as the doc's paths assume."""
    root = tmp_path_factory.mktemp("bi")
    support = _support()
    settings = support.world_settings(root / ".segments")
    support.publish(settings, run_id="r1", as_of=dt.date(2026, 1, 1), assignments={"a": 1, "b": 2})
    support.publish(
        settings, run_id="r2", as_of=dt.date(2026, 1, 10), assignments={"a": 2, "b": 2, "c": 3}
    )
    return root


def test_the_doc_has_the_recipes_this_test_runs():
    assert len(_blocks("python")) >= 4 and len(_blocks("sql")) >= 2


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_recipe_runs(published, monkeypatch, index):
    code = _blocks("python")[index]
    if "spark." in code:
        pytest.skip("Spark is not installed here")
    monkeypatch.chdir(published)
    namespace: dict = {}
    exec(compile(code, f"{DOC.name}[python {index}]", "exec"), namespace)  # noqa: S102 - the doc
    if "frame" in namespace:  # the pandas recipe: as_of is a date, the latest publish found
        frame, latest = namespace["frame"], namespace["latest"]
        assert isinstance(frame["as_of"].iloc[0], dt.date)
        assert set(latest["as_of"]) == {dt.date(2026, 1, 10)} and len(latest) == 3
    if "table" in namespace:
        assert str(namespace["table"].schema.field("as_of").type) == "date32[day]"


@pytest.mark.parametrize("index", range(len(_blocks("sql"))))
def test_sql_recipe_runs(published, monkeypatch, index):
    sql = _blocks("sql")[index]
    monkeypatch.chdir(published)
    if "read_parquet" in sql:
        con = duckdb.connect()
    else:
        con = duckdb.connect(".segments/serving.duckdb", read_only=True)
    with con:
        rows = con.execute(sql).fetchall()
    assert rows


def test_duckdb_cli_recipe(published):
    (block,) = [b for b in _blocks("bash") if b.lstrip().startswith("duckdb")]
    if shutil.which("duckdb") is None:
        pytest.skip("the DuckDB CLI is not installed here")
    done = subprocess.run(
        block, shell=True, cwd=published, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "customers" in done.stdout


def test_superset_sqlalchemy_uri(published):
    """duckdb-engine (what Superset uses) opens the serving file read-only with the doc's URI."""
    from sqlalchemy import create_engine, text

    (uri,) = re.findall(r"`(duckdb:////abs/path/serving\.duckdb\?[^`]+)`", DOC.read_text())
    engine = create_engine(uri.replace("/abs/path", str(published / ".segments")))
    with engine.connect() as con:
        count = con.execute(text("select count(*) from customer_segments")).scalar()
    engine.dispose()
    assert count == 3


def test_every_served_column_has_its_comment(published):
    with duckdb.connect(str(published / ".segments" / "serving.duckdb"), read_only=True) as con:
        tables = con.execute(
            "select table_name, comment from duckdb_tables() where schema_name = 'main' "
            "and not internal"
        ).fetchall()
        columns = con.execute(
            "select table_name, column_name, comment from duckdb_columns() "
            "where schema_name = 'main' and not internal"
        ).fetchall()
    assert tables and all(comment for _, comment in tables), tables
    missing = [f"{t}.{c}" for t, c, comment in columns if not comment]
    assert missing == [], f"add these to warehouse/columns.yaml: {missing}"
    money = {c: comment for t, c, comment in columns if c in ("monetary", "clv", "mean_clv")}
    assert all("GBP" in comment for comment in money.values())


def test_money_is_rounded_to_cents_in_the_serving_file_and_the_lake(published):
    from segments.core.money import MONEY_COLUMNS

    home = published / ".segments"
    with duckdb.connect(str(home / "serving.duckdb"), read_only=True) as con:
        columns = con.execute(
            "select table_name, column_name from duckdb_columns() where schema_name = 'main' "
            "and data_type = 'DOUBLE'"
        ).fetchall()
        money = [(t, c) for t, c in columns if c in MONEY_COLUMNS]
        assert ("customer_segments", "monetary") in money
        for table, column in money:
            (unrounded,) = con.execute(
                f'select count(*) from {table} where "{column}" <> round("{column}", 2)'
            ).fetchone()
            assert unrounded == 0, f"{table}.{column}"
    with duckdb.connect() as con:
        (unrounded,) = con.execute(
            "select count(*) from read_parquet($p) where monetary <> round(monetary, 2) "
            "or clv <> round(clv, 2)",
            {"p": str(home / "lake" / "marts" / "customer_segments" / "*.parquet")},
        ).fetchone()
    assert unrounded == 0


def test_the_generated_column_doc_is_up_to_date():
    from segments.publish.comments import markdown

    assert (PROJECT / "docs" / "serving-columns.md").read_text() == markdown(
        PROJECT / "warehouse"
    ), "regenerate: python -m segments.publish.comments > docs/serving-columns.md"
