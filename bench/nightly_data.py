"""Input files of the nightly benchmark: demo lines (UCI Online Retail shape) split by day into
a history and a few nights, as Parquet, the way a retailer's exports would arrive.

- history: every line before the first night (customers, transactions, web events);
- night 1: that day's lines plus late-arriving lines of the previous 30 days (1 in 100 of
  them, held back from the history: invoices whose lines come in two loads);
- night 2 and later: that day's lines, plus (night 2) night 1's transaction file landed again
  with corrections (prices of 1 in 50 lines changed, 1 in 100 lines dropped): it supersedes
  night 1's load.

Made once per (lines, seed) under bench/work/ (gitignored) and reused; nothing here is timed.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

LATE_DAYS = 30


@dataclass(frozen=True)
class Night:
    """One night: the files it lands and the as_of its run uses (the day after)."""

    day: str
    transactions: list[str]
    events: str
    as_of: str


@dataclass(frozen=True)
class BenchData:
    folder: str
    lines: int
    customers: int
    history_lines: int
    history_as_of: str  # the first run's as_of: the first night's day
    customers_csv: str
    history_transactions: str
    history_events: str
    nights: list[Night]
    transaction_files: list[str]  # every line once (the baselines read these)

    @staticmethod
    def load(path: Path) -> BenchData:
        raw = json.loads(path.read_text())
        raw["nights"] = [Night(**n) for n in raw["nights"]]
        return BenchData(**raw)


def _copy(con, sql: str, target: Path, params: dict | None = None) -> int:
    """Write a query to Parquet; returns its rows (paths are bound, never formatted in)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"create or replace temp table _out as {sql}", params or {})
    con.execute("copy _out to $path (format parquet)", {"path": str(target)})
    return con.execute("select count(*) from _out").fetchone()[0]


def prepare(lines: int, seed: int, root: Path, nights: int = 2) -> BenchData:
    """The benchmark's files for `lines` demo lines (generated and split once)."""
    folder = root / f"data-{lines}-seed{seed}-nights{nights}"
    manifest = folder / "manifest.json"
    if manifest.exists():
        return BenchData.load(manifest)
    import duckdb

    from segments.demo import generate_demo

    shutil.rmtree(folder, ignore_errors=True)
    raw = folder / "generated"
    counts = generate_demo(raw, lines=lines, seed=seed)
    con = duckdb.connect()
    # all text, as a CSV export is: typing and quarantine are the pipeline's job
    con.execute(
        "create table tx as select *, row_number() over () as n, "
        "try_cast(left(InvoiceDate, 10) as date) as d "
        "from read_csv($p, all_varchar = true, header = true, strict_mode = false, "
        "ignore_errors = true)",
        {"p": str(raw / "demo_transactions" / "transactions.csv.gz")},
    )
    con.execute(
        "create table ev as select *, try_cast(left(event_ts, 10) as date) as d "
        "from read_csv($p, all_varchar = true, header = true, strict_mode = false, "
        "ignore_errors = true)",
        {"p": str(raw / "demo_events" / "events.csv.gz")},
    )
    last = con.execute("select max(d) from tx").fetchone()[0]
    days = [last - timedelta(days=nights - 1 - k) for k in range(nights)]
    first = days[0]
    # late lines: 1 in 100 of the last 30 days before the first night, held back for night 1
    con.execute(
        "create table late as select * from tx where d >= $f - $late and d < $f and n % 100 = 7",
        {"f": first, "late": LATE_DAYS},
    )
    cols = "* exclude (n, d)"
    out = folder / "history"
    history = _copy(
        con,
        f"select {cols} from tx where (d is null or d < $f) and n not in (select n from late)",
        out / "transactions.parquet",
        {"f": first},
    )
    _copy(con, "select * exclude (d) from ev where d is null or d < $f", out / "events.parquet",
          {"f": first})  # fmt: skip
    shutil.copy(raw / "demo_customers" / "customers.csv", out / "customers.csv")
    night_list, files = [], [str(out / "transactions.parquet")]
    for k, day in enumerate(days, start=1):
        here = folder / f"night-{k}"
        name = here / f"tx-{day.isoformat()}.parquet"
        extra = " or n in (select n from late)" if k == 1 else ""
        _copy(con, f"select {cols} from tx where d = $d{extra}", name, {"d": day})
        files.append(str(name))
        tx_files = [str(name)]
        if k == 2:  # night 1's file landed again, corrected: supersedes night 1's load
            fixed = here / Path(night_list[0].transactions[0]).name
            _copy(
                con,
                "select * exclude (UnitPrice), case when hash(n) % 50 = 0 then "
                "cast(round(try_cast(UnitPrice as double) * 1.1, 2) as varchar) "
                "else UnitPrice end as UnitPrice "
                "from (select * from tx where d = $d or n in (select n from late)) "
                "where hash(n) % 100 <> 1",
                fixed,
                {"d": days[0]},
            )
            tx_files.insert(0, str(fixed))
        _copy(con, "select * exclude (d) from ev where d = $d", here / f"ev-{day}.parquet",
              {"d": day})  # fmt: skip
        night_list.append(
            Night(
                day=day.isoformat(),
                transactions=tx_files,
                events=str(here / f"ev-{day}.parquet"),
                as_of=(day + timedelta(days=1)).isoformat(),
            )
        )
    data = BenchData(
        folder=str(folder),
        lines=lines,
        customers=counts["customers"],
        history_lines=history,
        history_as_of=first.isoformat(),
        customers_csv=str(out / "customers.csv"),
        history_transactions=str(out / "transactions.parquet"),
        history_events=str(out / "events.parquet"),
        nights=night_list,
        transaction_files=files,
    )
    shutil.rmtree(raw)  # the CSVs are not needed any more (and are large)
    manifest.write_text(json.dumps(asdict(data), indent=2))
    return data


def night_lines(path: str) -> int:
    """Rows of one Parquet file (for the table)."""
    import duckdb

    with duckdb.connect() as con:
        return con.execute("select count(*) from read_parquet($p)", {"p": path}).fetchone()[0]
