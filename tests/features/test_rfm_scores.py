"""RFM quintile scores (ties at the edges), the segment rule seed, and the segment lookup."""

from __future__ import annotations

import csv
import itertools
from datetime import date, timedelta

import pytest
from feature_warehouse import SQL_DIR, Warehouse

AS_OF = date(2011, 7, 1)
SEGMENTS = {
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
}


def rules() -> list[dict[str, str]]:
    with open(SQL_DIR / "seeds" / "rfm_segment_rules.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def fm_score(f_score: int, m_score: int) -> int:
    """The documented combination: mean of F and M, a half rounded up."""
    return (f_score + m_score + 1) // 2


def segments_for(r: int, f: int, m: int) -> list[str]:
    fm = fm_score(f, m)
    return [
        rule["rfm_segment"]
        for rule in rules()
        if int(rule["r_score_min"]) <= r <= int(rule["r_score_max"])
        and int(rule["fm_score_min"]) <= fm <= int(rule["fm_score_max"])
    ]


def test_rule_table_names_each_segment_once() -> None:
    names = [rule["rfm_segment"] for rule in rules()]
    assert sorted(names) == sorted(SEGMENTS)


@pytest.mark.parametrize(("r", "f", "m"), itertools.product(range(1, 6), repeat=3))
def test_every_score_maps_to_exactly_one_segment(r: int, f: int, m: int) -> None:
    assert len(segments_for(r, f, m)) == 1


def test_seed_is_loaded_into_the_warehouse(wh: Warehouse) -> None:
    loaded = wh.con.execute("select count(*) from seeds.rfm_segment_rules").fetchone()
    assert loaded == (len(SEGMENTS),)


def one_purchase_each(wh: Warehouse, values: dict[str, float]) -> None:
    """Customer -> price of a single purchase on the same day (R and F tie for everyone)."""
    wh.lines(
        {"customer": customer, "invoice": f"i-{customer}", "at": "2011-06-01", "price": price}
        for customer, price in values.items()
    )


def scores(wh: Warehouse, column: str) -> dict[str, int]:
    wh.build(AS_OF)
    frame = wh.frame("features.customer_features")
    return {str(k): int(v) for k, v in frame[column].items()}


def test_distinct_values_fill_equal_quintiles(wh: Warehouse) -> None:
    one_purchase_each(wh, {f"c{i:02d}": float(i) for i in range(1, 11)})
    m = scores(wh, "m_score")
    assert [m[f"c{i:02d}"] for i in range(1, 11)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_ties_at_a_quintile_edge_share_the_lower_score(wh: Warehouse) -> None:
    # positions 4 and 5 tie: alone, position 5 would open quintile 3
    values = [1, 2, 3, 4, 4, 6, 7, 8, 9, 10]
    one_purchase_each(wh, {f"c{i:02d}": float(v) for i, v in enumerate(values)})
    m = scores(wh, "m_score")
    assert [m[f"c{i:02d}"] for i in range(10)] == [1, 1, 2, 2, 2, 3, 4, 4, 5, 5]


def test_scores_do_not_depend_on_customer_ids(wh: Warehouse) -> None:
    # the same values under reversed names: each value keeps its score
    values = [5, 5, 5, 1, 2, 3, 9, 9, 9, 9]
    one_purchase_each(wh, {f"z{9 - i}": float(v) for i, v in enumerate(values)})
    m = scores(wh, "m_score")
    by_value = {}
    for i, value in enumerate(values):
        by_value.setdefault(value, set()).add(m[f"z{9 - i}"])
    assert all(len(s) == 1 for s in by_value.values())
    assert {v: s.pop() for v, s in by_value.items()} == {1: 1, 2: 1, 3: 2, 5: 2, 9: 4}


def test_all_tied_everyone_scores_one(wh: Warehouse) -> None:
    one_purchase_each(wh, {"a": 5.0, "b": 5.0, "c": 5.0})
    assert set(scores(wh, "f_score").values()) == {1}
    assert set(scores(wh, "r_score").values()) == {1}


def test_recent_buyers_score_high_on_recency(wh: Warehouse) -> None:
    start = date(2011, 6, 1)
    wh.lines(
        {"customer": f"d{i}", "invoice": f"i{i}", "at": start + timedelta(days=i)}
        for i in range(5)
    )
    r = scores(wh, "r_score")
    assert [r[f"d{i}"] for i in range(5)] == [1, 2, 3, 4, 5]


def test_codes_and_segments_follow_the_rule_table(wh: Warehouse) -> None:
    # 5 customers: the newest buys most often and most; the oldest once and least
    start = date(2011, 1, 1)
    lines = []
    for i in range(5):
        for order in range(i + 1):
            lines.append(
                {
                    "customer": f"k{i}",
                    "invoice": f"k{i}-{order}",
                    "at": start + timedelta(days=30 * i + order),
                    "price": 10.0 * (i + 1),
                }
            )
    wh.lines(lines)
    wh.build(AS_OF)
    frame = wh.frame("features.customer_features")
    for customer, row in frame.iterrows():
        assert row.rfm_code == f"{row.r_score}{row.f_score}{row.m_score}"
        assert row.fm_score == fm_score(row.f_score, row.m_score)
        assert [row.rfm_segment] == segments_for(row.r_score, row.f_score, row.m_score)
    assert frame.loc["k4"].rfm_segment == "Champions"
    assert frame.loc["k0"].rfm_segment == "Lost"
