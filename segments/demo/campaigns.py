"""Demo marketing campaigns: sends with a held-out control group and a known effect.

Every CAMPAIGN_EVERY_DAYS over the last weeks of the window a campaign goes to a random
share of the customers signed up by then; CONTROL_SHARE of them are held out (not sent,
responses tracked all the same), except in the one campaign without a control group. Each
recipient converts with a probability that depends on their persona and on whether they are
still active: RESPONSES gives the base rate (what happens without the message) and the
uplift (what the message adds), so the effect differs by segment and is known exactly:
`CampaignPlan.p_control` and `p_treatment` are the ground truth tests compare estimates with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from segments.demo.catalogue import PERSONAS
from segments.demo.files import CsvSink, code_strings, replaced, timestamps
from segments.demo.people import ID_WIDTH, People, Window

CAMPAIGN_HEADER = (
    "campaign_id",
    "customer_id",
    "sent_ts",
    "channel",
    "group",
    "opened_ts",
    "clicked_ts",
    "converted_ts",
    "revenue",
)
CAMPAIGNS = 6
CAMPAIGN_EVERY_DAYS = 14
LAST_SEND_BEFORE_END_DAYS = 7  # every response (within RESPONSE_DAYS) lands in the window
RESPONSE_DAYS = 5
TARGET_SHARE = 0.6
CONTROL_SHARE = 0.2
NO_CONTROL = 2  # this campaign (0-based) goes to everyone targeted: plain rates only
CHANNELS = ("email", "email", "push", "email", "sms", "email")
CLICK_GIVEN_OPEN = 0.35
INACTIVE_FACTOR = 0.25  # a customer past their buying span responds this much less


@dataclass(frozen=True)
class Response:
    """How a persona responds: base conversion, uplift from the message, opens, order value."""

    base: float
    uplift: float
    open_rate: float
    order_value: float


RESPONSES: dict[str, Response] = {
    "champion": Response(0.20, 0.03, 0.60, 80.0),
    "loyal": Response(0.12, 0.08, 0.50, 45.0),
    "big_ticket": Response(0.06, 0.05, 0.40, 180.0),
    "regular": Response(0.05, 0.07, 0.38, 35.0),
    "new": Response(0.04, 0.10, 0.45, 30.0),
    "lapsed": Response(0.01, 0.05, 0.22, 30.0),
    "one_timer": Response(0.005, 0.02, 0.15, 25.0),
    "browser": Response(0.005, 0.03, 0.30, 25.0),
}


@dataclass(frozen=True)
class CampaignPlan:
    """One row per recipient, campaigns in send order; the p_* columns are the truth."""

    campaign: np.ndarray
    customer: np.ndarray  # customer index (id = index + 1)
    sent: np.ndarray  # epoch seconds
    control: np.ndarray
    p_control: np.ndarray  # conversion probability without the message
    p_treatment: np.ndarray  # with it
    opened: np.ndarray  # epoch seconds, -1 = never
    clicked: np.ndarray
    converted: np.ndarray
    revenue_pence: np.ndarray


def _persona_array(field: str) -> np.ndarray:
    return np.array([getattr(RESPONSES[p.name], field) for p in PERSONAS])


def send_days(window: Window) -> np.ndarray:
    """Day offsets (from the window start) of the campaign sends."""
    last = window.days - LAST_SEND_BEFORE_END_DAYS
    return last - CAMPAIGN_EVERY_DAYS * np.arange(CAMPAIGNS)[::-1]


def plan_campaigns(rng: np.random.Generator, people: People, window: Window) -> CampaignPlan:
    """Who gets which campaign, in which group, and how each responds."""
    n = people.count
    persona = people.persona[:n]
    parts = []
    for index, day in enumerate(send_days(window).tolist()):
        if day < 0:  # a short window has room for fewer campaigns
            continue
        eligible = np.flatnonzero(people.signup[:n] <= day)
        chosen = np.sort(rng.choice(eligible, round(TARGET_SHARE * len(eligible)), replace=False))
        control = (
            np.zeros(len(chosen), bool)
            if index == NO_CONTROL
            else rng.random(len(chosen)) < CONTROL_SHARE
        )
        active = (people.start[chosen] <= day) & (day < people.end[chosen])
        factor = np.where(active, 1.0, INACTIVE_FACTOR)
        base = _persona_array("base")[persona[chosen]] * factor
        treated = base + _persona_array("uplift")[persona[chosen]] * factor
        sent = window.start_ts + day * 86_400 + 9 * 3_600 + rng.integers(0, 7_200, len(chosen))
        p = np.where(control, base, treated)
        converts = rng.random(len(chosen)) < p
        opens = ~control & (rng.random(len(chosen)) < _persona_array("open_rate")[persona[chosen]])
        clicks = opens & (rng.random(len(chosen)) < CLICK_GIVEN_OPEN)
        open_at = sent + rng.integers(60, 2 * 86_400, len(chosen))
        click_at = open_at + rng.integers(5, 600, len(chosen))
        convert_at = sent + rng.integers(600, RESPONSE_DAYS * 86_400, len(chosen))
        value = _persona_array("order_value")[persona[chosen]]
        pence = np.round(rng.lognormal(np.log(value), 0.5) * 100).astype(np.int64)
        parts.append(
            (
                np.full(len(chosen), index),
                chosen,
                sent,
                control,
                base,
                treated,
                np.where(opens, open_at, -1),
                np.where(clicks, click_at, -1),
                np.where(converts, convert_at, -1),
                np.where(converts, pence, 0),
            )
        )
    columns = [np.concatenate(c) for c in zip(*parts)]
    return CampaignPlan(*columns)


def _optional_ts(seconds: np.ndarray) -> pa.Array:
    """Timestamps, blank where -1."""
    return pa.array(np.where(seconds < 0, 0, seconds), pa.timestamp("s"), mask=seconds < 0)


def campaign_table(plan: CampaignPlan) -> pa.Table:
    """The export a CRM would give: one line per recipient."""
    converted = plan.converted >= 0
    money = [f"{p // 100}.{p % 100:02d}" for p in plan.revenue_pence.tolist()]
    return pa.table(
        {
            "campaign_id": code_strings("CMP", plan.campaign + 1, 3),
            "customer_id": code_strings("C", plan.customer + 1, ID_WIDTH),
            "sent_ts": timestamps(plan.sent),
            "channel": pa.array(CHANNELS).take(pa.array(plan.campaign % len(CHANNELS))),
            "group": pa.array(np.where(plan.control, "control", "treatment")),
            "opened_ts": _optional_ts(plan.opened),
            "clicked_ts": _optional_ts(plan.clicked),
            "converted_ts": _optional_ts(plan.converted),
            "revenue": pa.array(money, mask=~converted),
        }
    )


def write_campaigns(path: Path, plan: CampaignPlan, fault_rng: np.random.Generator) -> dict:
    """campaigns.csv in send order, with two bad copies slipped in after random hosts."""
    table = campaign_table(plan)
    faults = [
        lambda f: replaced(f, 4, "holdout"),  # a group that is neither treatment nor control
        # converted the day before it was sent
        lambda f: replaced(f, 7, f[2][:8] + "01 08:00:00"),
    ]
    hosts = np.sort(fault_rng.choice(table.num_rows, len(faults), replace=False))
    with CsvSink(path, CAMPAIGN_HEADER) as sink:
        sink.write(table, after=list(zip(hosts.tolist(), faults)))
        rows = sink.rows
    return {"campaign_rows": rows, "bad_campaign_rows": len(faults)}
