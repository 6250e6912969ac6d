"""Database sources: SQLite by path and a real PostgreSQL server, incremental by updated_at."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from segments.core.sql import apply_schema
from segments.ingest.database import ingest_database, redacted_url
from segments.ingest.sources import SourceMapping

SQL_DIR = Path(__file__).resolve().parents[2] / "warehouse"
KEY = b"test-key"
CRM_ROWS = [
    (1, "Ann Lee", "ann@example.com", "F", 42000, "2024-01-01 10:00:00"),
    (2, "Bob Ray", "bob@example.com", "M", 38000, "2024-01-01 10:00:00"),
    (3, "Cy Dee", "cy@example.com", "X", 51000, "2024-01-02 09:00:00"),  # bad gender code
    (4, "Di Fox", "di@example.com", "F", -5, "2024-01-03 08:00:00"),  # negative income
    (5, "Ed Go", "ed@example.com", "M", 61000, "2024-01-03 08:00:00"),
]
CREATE = (
    "create table crm_customers (id integer, full_name text, email text, sex text, "
    "income integer, modified_at {ts})"
)


def _mapping(url: str, batch_rows: int = 2) -> SourceMapping:
    return SourceMapping.model_validate(
        {
            "name": "crm_customers",
            "entity": "customers",
            "natural_key": ["customer_id"],
            "database": {
                "url": url,
                "table": "crm_customers",
                "updated_at": "modified_at",
                "batch_rows": batch_rows,
            },
            "columns": {
                "customer_id": {"source": "id", "type": "id", "required": True, "pii": True},
                "name_hash": {"source": "full_name", "pii": True},
                "email_hash": {"source": "email", "pii": True},
                "gender": {"source": "sex", "values": {"F": "female", "M": "male"}},
                "annual_income": {"source": "income", "type": "double", "min": 0},
            },
        }
    )


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    apply_schema(con, SQL_DIR)
    return con


def _check_incremental(con: duckdb.DuckDBPyConnection, mapping: SourceMapping, add_row) -> None:
    """Shared story: first read in tie-safe batches, re-read loads nothing, new rows only."""
    first = ingest_database(con, mapping, run_id="r1", pii_key=KEY)
    assert [r.status for r in first] == ["loaded", "loaded"]
    # batches of 2 never split rows sharing a modified_at: (1, 2, 3) then (4, 5)
    assert [r.rows_read for r in first] == [3, 2]
    assert sum(r.rows_staged for r in first) == 3
    assert sum(r.rows_quarantined for r in first) == 2
    assert all(r.rows_read == r.rows_staged + r.rows_quarantined + r.duplicates for r in first)
    reasons = con.execute("select reason_code from ops.quarantine order by 1").fetchall()
    assert reasons == [("invalid_value",), ("out_of_range",)]
    mark = con.execute("select high_water_mark from ops.source_state").fetchone()[0]
    assert mark.startswith("2024-01-03 08:00:00")
    assert ingest_database(con, mapping, run_id="r2", pii_key=KEY) == []
    add_row((2, "Bob Ray", "bob@example.com", "M", 39000, "2024-02-01 00:00:00"))
    again = ingest_database(con, mapping, run_id="r3", pii_key=KEY)
    assert [(r.status, r.rows_read, r.rows_staged) for r in again] == [("loaded", 1, 1)]
    versions = con.execute(
        "select count(*), count(distinct customer_id) from staging.customer_versions"
    ).fetchone()
    assert versions == (4, 3)  # Bob's old version is kept: history is not lost
    dump = str(con.execute("select * from staging.customer_versions").fetchall())
    dump += str(con.execute("select * from raw.crm_customers").fetchall())
    dump += str(con.execute("select * from ops.quarantine").fetchall())
    assert "Bob Ray" not in dump and "bob@example.com" not in dump
    paths = [p for (p,) in con.execute("select path from ops.loads").fetchall()]
    assert all("crm_customers" in p for p in paths)


def test_sqlite_table_is_read_incrementally(con, tmp_path):
    db = tmp_path / "crm.sqlite"
    with sqlite3.connect(db) as lite:
        lite.execute(CREATE.format(ts="text"))
        lite.executemany("insert into crm_customers values (?, ?, ?, ?, ?, ?)", CRM_ROWS)

    def add_row(row: tuple) -> None:
        with sqlite3.connect(db) as lite:
            lite.execute("insert into crm_customers values (?, ?, ?, ?, ?, ?)", row)

    _check_incremental(con, _mapping(f"sqlite:///{db}"), add_row)


def test_missing_sqlite_file_fails_that_source(con, tmp_path):
    results = ingest_database(
        con, _mapping(f"sqlite:///{tmp_path}/nope.db"), run_id="r", pii_key=KEY
    )
    assert [r.status for r in results] == ["failed"]
    assert "SQLite file not found" in results[0].message


def test_password_never_reaches_ops_loads():
    assert redacted_url("postgresql://crm:s3cret@127.0.0.1:5433/crm") == (
        "postgresql://crm@127.0.0.1:5433/crm"
    )


def _pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL on 127.0.0.1 with its own data directory, stopped afterwards."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL binaries not installed (apt-get install -y postgresql)")
    # not under pytest's tmp_path: its parents are root-only and postgres must reach it
    root = Path(tempfile.mkdtemp(prefix="segments-pg-"))
    data, port = root / "data", _free_port()
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres", "postgres")
        root.chmod(0o700)
        as_postgres = ["runuser", "-u", "postgres", "--"]
    run = lambda *args: subprocess.run(
        [*as_postgres, *args],
        check=True,
        capture_output=True,
        text=True,
    )
    run(str(bindir / "initdb"), "-D", str(data), "-U", "segments", "-A", "trust", "--no-sync")
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        opts,
        "-l",
        str(root / "log"),
        "-w",
        "-t",
        "60",
        "start",
    )
    try:
        yield f"postgresql://segments:unused@127.0.0.1:{port}/postgres"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_postgresql_table_is_read_incrementally(con, postgres):
    import psycopg2

    def execute(sql: str, rows: list[tuple] | None = None) -> None:
        with psycopg2.connect(postgres) as pg, pg.cursor() as cur:
            if rows is None:
                cur.execute(sql)
            else:
                cur.executemany(sql, rows)

    execute(CREATE.format(ts="timestamp"))
    insert = "insert into crm_customers values (%s, %s, %s, %s, %s, %s)"
    execute(insert, CRM_ROWS)
    started = time.monotonic()
    _check_incremental(con, _mapping(postgres), lambda row: execute(insert, [row]))
    assert time.monotonic() - started < 120
    assert "unused" not in str(con.execute("select * from ops.loads").fetchall())
