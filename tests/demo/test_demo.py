"""Demo generator: byte-stable output, honoured sizes, exact bad rows, persona-shaped data."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from segments.demo.generate import expected_lines_per_customer, generate_demo, plan_sizes

CUSTOMERS = Path("demo_customers/customers.csv")
TRANSACTIONS = Path("demo_transactions/transactions.csv.gz")
EVENTS = Path("demo_events/events.csv.gz")
FILES = (CUSTOMERS, TRANSACTIONS, EVENTS)
END = date(2025, 6, 30)
DAYS = 365


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows, read as raw strings (the generator never quotes)."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    header, *rows = csv.reader(io.StringIO(data.decode()))
    return header, rows


def _digests(root: Path) -> list[str]:
    return [hashlib.sha256((root / name).read_bytes()).hexdigest() for name in FILES]


def _ts(text: str) -> datetime | None:
    """YYYY-MM-DD HH:MM:SS as a datetime, None when it is not one."""
    if len(text) != 19 or text[10] != " ":
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """One mid-sized demo shared by the read-only checks (about 20k lines)."""
    root = tmp_path_factory.mktemp("demo")
    return root, generate_demo(root, customers=400, seed=3, end_date=END, days=DAYS)


@pytest.fixture(scope="module")
def tables(demo: tuple[Path, dict[str, int]]) -> dict[str, list[list[str]]]:
    root, _ = demo
    return {name.parent.name: _rows(root / name)[1] for name in FILES}


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    runs = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        generate_demo(tmp_path / name, lines=2_000, seed=seed)
        runs[name] = _digests(tmp_path / name)
    assert runs["a"] == runs["b"]
    assert all(x != y for x, y in zip(runs["a"], runs["c"]))


def test_gzip_header_has_no_time_or_name(demo: tuple[Path, dict[str, int]]) -> None:
    root, _ = demo
    for name in (TRANSACTIONS, EVENTS):
        head = (root / name).read_bytes()[:10]
        assert head[3] & 0x08 == 0  # FNAME flag off
        assert head[4:8] == b"\0\0\0\0"  # MTIME zero


def test_headers_are_exact(demo: tuple[Path, dict[str, int]]) -> None:
    root, _ = demo
    assert _rows(root / CUSTOMERS)[0] == [
        "customer_id",
        "name",
        "email",
        "gender",
        "birth_date",
        "annual_income",
        "country",
        "signup_date",
    ]
    assert _rows(root / TRANSACTIONS)[0] == [
        "InvoiceNo",
        "StockCode",
        "Description",
        "Quantity",
        "InvoiceDate",
        "UnitPrice",
        "CustomerID",
        "Country",
    ]
    assert _rows(root / EVENTS)[0] == [
        "customer_id",
        "session_id",
        "event_type",
        "event_ts",
        "channel",
    ]


def test_returned_counts_match_the_files(demo, tables) -> None:
    _, counts = demo
    assert counts["customers"] == len(tables["demo_customers"]) == 400 + 4
    assert counts["transaction_lines"] == len(tables["demo_transactions"])
    assert counts["events"] == len(tables["demo_events"])
    assert counts["transaction_lines"] == pytest.approx(
        400 * expected_lines_per_customer(DAYS), rel=0.02
    )


@pytest.mark.parametrize(("customers", "lines"), [(None, 1_000), (None, 12_345), (250, 40_000)])
def test_line_target_is_met_exactly(tmp_path: Path, customers: int | None, lines: int) -> None:
    counts = generate_demo(tmp_path, customers=customers, lines=lines, seed=1)
    assert counts["transaction_lines"] == lines
    if customers:
        assert counts["customers"] == customers + 4


def test_sizes_follow_from_the_persona_mix() -> None:
    assert plan_sizes(None, None) == (2_000, round(2_000 * expected_lines_per_customer()))
    assert 90 <= expected_lines_per_customer() <= 110
    customers, _ = plan_sizes(None, 1_000_000)
    assert customers == pytest.approx(1_000_000 / expected_lines_per_customer(), rel=0.01)
    with pytest.raises(ValueError, match="more lines"):
        plan_sizes(1_000, 1_500)


def test_bad_transactions_are_present_exactly_as_counted(demo, tables) -> None:
    _, counts = demo
    lines = tables["demo_transactions"]
    known = {row[0] for row in tables["demo_customers"]}
    cells = Counter()
    for invoice, _, _, quantity, invoiced, price, customer, _ in lines:
        cells["non_numeric_quantity"] += _int(quantity) is None
        cells["absurd_quantity"] += quantity == "9999999"
        cells["unparseable_date"] += _ts(invoiced) is None
        cells["no_invoice"] += invoice == ""
        cells["negative_price"] += price.startswith("-") and not invoice.startswith("C")
        cells["orphan"] += customer != "" and customer not in known
    assert cells == dict.fromkeys(cells, 1)
    assert sum(cells.values()) == counts["bad_transactions"] == 6
    repeats = Counter(tuple(row) for row in lines)
    assert sum(n - 1 for n in repeats.values()) == counts["duplicate_lines"] == 2
    assert [row[3] for row in lines if _int(row[3]) is None] == ["x3"]
    assert [row[4] for row in lines if _ts(row[4]) is None] == ["2025-13-45 25:00:00"]


def test_bad_customers_are_present_exactly_as_counted(demo, tables) -> None:
    _, counts = demo
    rows = tables["demo_customers"]
    ids = [row[0] for row in rows]
    assert ids.count("") == 1
    assert sum(row[4] == "1987-02-31" for row in rows) == 1
    assert sum(row[5].startswith("-") for row in rows) == 1
    assert counts["bad_customers"] == 3
    # one id comes back later in the file with another country and income: an update
    ((repeated, seen),) = [(i, n) for i, n in Counter(i for i in ids if i).items() if n > 1]
    assert seen == 2 and counts["customer_updates"] == 1
    first, last = (row for row in rows if row[0] == repeated)
    assert ids.index(repeated) < len(ids) - 1 and rows[-1] == last
    assert first[6] != last[6] and first[5] != last[5]
    assert all(g in ("F", "M", "") for g in (row[3] for row in rows))
    assert all(row[2].endswith("@example.com") for row in rows)


def test_bad_events_are_present_exactly_as_counted(demo, tables) -> None:
    _, counts = demo
    rows = tables["demo_events"]
    assert sum(row[2] not in ("view", "cart", "purchase") for row in rows) == 1
    assert sum(row[2] == "teleport" for row in rows) == 1
    assert sum(_ts(row[3]) is None for row in rows) == 1
    assert sum(row[0] == "" for row in rows) == 1
    assert counts["bad_events"] == 3
    assert {row[4] for row in rows} == {"web", "app", "email", "ads"}


def test_transaction_customers_exist_and_guests_are_a_sixth(tables) -> None:
    known = {row[0] for row in tables["demo_customers"] if row[0]}
    lines = tables["demo_transactions"]
    missing = [row for row in lines if row[6] and row[6] not in known]
    assert len(missing) == 1
    guests = sum(row[6] == "" for row in lines) / len(lines)
    assert 0.15 <= guests <= 0.20


def test_timestamps_fall_in_the_window_and_lines_are_in_date_order(tables) -> None:
    first, after = (
        datetime.combine(END - timedelta(days=DAYS - 1), datetime.min.time()),
        datetime.combine(END + timedelta(days=1), datetime.min.time()),
    )
    invoiced = [t for t in (_ts(row[4]) for row in tables["demo_transactions"]) if t]
    assert all(first <= t < after for t in invoiced)
    assert invoiced == sorted(invoiced)
    events = [t for t in (_ts(row[3]) for row in tables["demo_events"]) if t]
    assert all(first <= t < after for t in events)
    assert all(row[7] <= END.isoformat() for row in tables["demo_customers"])


def test_cancellations_return_what_the_customer_bought(tables) -> None:
    bought: dict[tuple[str, str], int] = {}
    invoices = set()
    cancellations = set()
    for invoice, code, _, quantity, _, _, customer, _ in tables["demo_transactions"]:
        if not invoice or _int(quantity) is None:
            continue
        invoices.add(invoice)
        if invoice.startswith("C"):
            cancellations.add(invoice)
            assert customer and int(quantity) < 0
            assert bought.get((customer, code), 0) >= -int(quantity)
        else:
            bought[(customer, code)] = max(bought.get((customer, code), 0), int(quantity))
    assert 0.01 <= len(cancellations) / len(invoices) <= 0.03


def test_sessions_lead_to_purchases(tables) -> None:
    purchases = {(row[6], row[4]) for row in tables["demo_transactions"] if row[6]}
    events = tables["demo_events"]
    bought = [(row[0], row[3]) for row in events if row[2] == "purchase"]
    assert bought and all(key in purchases for key in bought)
    buyers = {c for c, _ in purchases}
    browsers = {row[0] for row in events} - buyers - {""}
    assert browsers  # people who never buy still browse


def test_personas_make_a_heavy_tailed_customer_base(tables) -> None:
    revenue: Counter[str] = Counter()
    invoices: dict[str, set[str]] = {}
    for invoice, _, _, quantity, invoiced, price, customer, _ in tables["demo_transactions"]:
        qty = _int(quantity)
        if not customer or not invoice or qty is None or abs(qty) > 100_000 or not _ts(invoiced):
            continue
        revenue[customer] += qty * float(price)
        invoices.setdefault(customer, set()).add(invoice)
    ranked = sorted(revenue.values(), reverse=True)
    assert sum(ranked[: len(ranked) // 20]) > 0.30 * sum(ranked)
    frequency = sorted(len(v) for v in invoices.values())
    assert frequency[len(frequency) // 10] == 1  # one-timers and new customers
    assert frequency[-len(frequency) // 20] >= 5 * frequency[len(frequency) // 2]
