"""Demo web/app events: a session before most purchases, plus browsing that buys nothing.

Sessions are planned up front (one row each), sorted by start, and expanded into events in
chunks, so the file is in session-start order and events within a session are in time order.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import pyarrow as pa

from segments.demo.catalogue import BROWSE_HOUR_WEIGHTS, CHANNELS, EVENT_TYPES, PERSONAS
from segments.demo.files import CsvSink, chunk_bounds, code_strings, replaced, take, timestamps
from segments.demo.people import ID_WIDTH, People, Window, persona_field
from segments.demo.sales import Invoices

EVENT_HEADER = ("customer_id", "session_id", "event_type", "event_ts", "channel")
ONLINE_SHARE = 0.85  # of customer invoices that come with a web or app session
CHUNK_EVENTS = 500_000
BAD_EVENT_TS = "2025-02-30 25:61:00"


@dataclass(frozen=True)
class Sessions:
    """Sessions in start order; session i has id S + i+1."""

    customer: np.ndarray
    start: np.ndarray  # epoch seconds of the first event
    duration: np.ndarray  # seconds from the first to the last event
    views: np.ndarray
    carts: np.ndarray
    purchase: np.ndarray  # 1 if the session ends with a purchase event
    channel: np.ndarray

    @property
    def events(self) -> np.ndarray:
        return self.views + self.carts + self.purchase


def plan_sessions(
    rng: np.random.Generator, people: People, invoices: Invoices, window: Window, scale: float
) -> Sessions:
    """Purchase sessions end on an invoice's time; browsing sessions fall in active spans."""
    bought = np.flatnonzero(~invoices.cancel & (invoices.customer >= 0))
    bought = bought[rng.random(len(bought)) < ONLINE_SHARE]
    buyer = invoices.customer[bought]
    n_buy = len(bought)
    buy_views = rng.geometric(1 / 3.0, n_buy)
    buy_carts = rng.geometric(1 / 1.6, n_buy)
    buy_length = buy_views + buy_carts + 1
    buy_duration = buy_length * 20 + rng.gamma(2.0, 240.0, n_buy).astype(np.int64)
    buy_start = np.maximum(invoices.ts[bought] - buy_duration, window.start_ts)
    buy_duration = invoices.ts[bought] - buy_start  # shop hours: never shorter than needed

    n = people.count
    persona = people.persona[:n]
    rate = persona_field("sessions_per_year")[persona] * (people.end - people.start) / 365.0
    browser = np.repeat(np.arange(n), rng.poisson(rate * scale))
    day = window.sample_days(rng, people.start[browser], people.end[browser])
    hours = np.array(BROWSE_HOUR_WEIGHTS, dtype=np.float64)
    hour = rng.choice(24, len(browser), p=hours / hours.sum())
    browse_views = np.minimum(rng.geometric(1 / 3.5, len(browser)), 40)
    browse_carts = (rng.random(len(browser)) < 0.25).astype(np.int64)  # abandoned baskets
    browse_length = browse_views + browse_carts
    browse_duration = browse_length * 15 + rng.gamma(1.5, 120.0, len(browser)).astype(np.int64)
    browse_start = (
        window.start_ts + day * 86_400 + hour * 3_600 + rng.integers(0, 3_600, len(browser))
    )
    browse_start = np.minimum(browse_start, window.end_ts - 1 - browse_duration)

    customer = np.concatenate([buyer, browser])
    start = np.concatenate([buy_start, browse_start])
    mix = np.cumsum([p.channels for p in PERSONAS], axis=1)
    mix /= mix[:, -1:]
    pick = rng.random(len(customer))
    channel = (pick[:, None] >= mix[people.persona[customer]]).sum(axis=1)
    order = np.argsort(start, kind="stable")
    return Sessions(
        customer=customer[order],
        start=start[order],
        duration=np.concatenate([buy_duration, browse_duration])[order],
        views=np.concatenate([buy_views, browse_views])[order],
        carts=np.concatenate([buy_carts, browse_carts])[order],
        purchase=np.concatenate([np.ones(n_buy, np.int64), np.zeros(len(browser), np.int64)])[
            order
        ],
        channel=np.minimum(channel, len(CHANNELS) - 1)[order],
    )


def write_events(
    path: Path,
    stream: tuple[int, int],
    sessions: Sessions,
    people: People,
    fault_rng: np.random.Generator,
) -> dict[str, int]:
    """Expand sessions into events chunk by chunk; three bad copies slip in after hosts."""
    counts = sessions.events
    first_event = np.concatenate([[0], np.cumsum(counts)])
    faults = [
        lambda f: replaced(f, 2, "teleport"),  # unknown event_type
        lambda f: replaced(f, 3, BAD_EVENT_TS),
        lambda f: replaced(f, 0, ""),  # empty customer_id
    ]
    hosts = fault_rng.choice(len(counts), len(faults), replace=len(counts) < len(faults))
    fault_rows = first_event[hosts]
    customer_ids = code_strings("C", np.arange(1, people.count + 1), ID_WIDTH)
    with CsvSink(path, EVENT_HEADER) as sink:
        for chunk, (a, b) in enumerate(pairwise(chunk_bounds(first_event, CHUNK_EVENTS))):
            rng = np.random.default_rng([*stream, chunk])
            table = _chunk_events(rng, sessions, a, b, customer_ids)
            here = (fault_rows >= first_event[a]) & (fault_rows < first_event[b])
            sink.write(
                table,
                after=[
                    (int(fault_rows[i] - first_event[a]), faults[i]) for i in np.flatnonzero(here)
                ],
            )
        rows = sink.rows
    return {"events": rows, "bad_events": len(faults)}


def _chunk_events(
    rng: np.random.Generator, sessions: Sessions, a: int, b: int, customer_ids: pa.Array
) -> pa.Table:
    """Events of sessions a..b-1: views, then carts, then the purchase, strictly in time."""
    counts = sessions.events[a:b]
    session = np.repeat(np.arange(a, b), counts)
    step = np.arange(len(session)) - np.repeat(np.cumsum(counts) - counts, counts)
    views = sessions.views[session]
    kind = np.where(step < views, 0, np.where(step < views + sessions.carts[session], 1, 2))
    # sorted uniform fractions of the session, first event at 0, a purchase at 1
    fraction = rng.random(len(session))
    fraction = fraction[np.lexsort((fraction, session))]
    fraction[step == 0] = 0.0
    length = counts[session - a]
    fraction[(kind == 2) & (step == length - 1)] = 1.0
    # adding the step keeps timestamps strictly increasing inside a session
    room = np.maximum(sessions.duration[session] - (length - 1), 0)
    offset = np.floor(fraction * room).astype(np.int64) + step
    return pa.table(
        {
            "customer_id": take(customer_ids, sessions.customer[session]),
            "session_id": take(code_strings("S", np.arange(a + 1, b + 1), 9), session - a),
            "event_type": take(pa.array(EVENT_TYPES), kind),
            "event_ts": timestamps(sessions.start[session] + offset),
            "channel": take(pa.array(CHANNELS), sessions.channel[session]),
        }
    )
