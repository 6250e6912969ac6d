"""Deterministic demo data: customers, UCI-shaped transactions and web events, with personas.

`generate_demo` writes the four landing files the demo sources read (customers, transactions,
web events and marketing campaigns with a control group, `campaigns`). Same arguments and seed
give byte-identical files: every random draw comes from numpy generators seeded from (seed,
stage[, chunk]), outputs are written in a fixed order, gzip headers carry no time or name, and
nothing reads the clock. A fixed handful of bad rows is slipped in so the pipeline's quarantine
has something to catch; their counts are returned.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

from segments.demo.campaigns import CampaignPlan, plan_campaigns, write_campaigns
from segments.demo.catalogue import PERSONAS
from segments.demo.events import plan_sessions, write_events
from segments.demo.lines import transaction_faults, write_transactions
from segments.demo.people import Window, active_span, sample_people, signup_bounds, write_customers
from segments.demo.sales import GUEST_SHARE, build_catalogue, plan_invoices

DEFAULT_CUSTOMERS = 2_000
MIN_CUSTOMERS = 10
MIN_LINES = 200
MIN_LINES_PER_CUSTOMER = 2.0
# seed streams: one per stage, so a change in one stage does not reshuffle the others
_CUSTOMERS, _CATALOGUE, _INVOICES, _SESSIONS, _DETAILS, _LINES, _EVENTS = range(1, 8)
_CAMPAIGNS, _CAMPAIGN_FAULTS = 8, 9


def generate_demo(
    out_dir: Path,
    *,
    customers: int | None = None,
    lines: int | None = None,
    seed: int = 42,
    end_date: date = date(2025, 12, 31),
    days: int = 730,
) -> dict[str, int]:
    """Write demo_customers/, demo_transactions/, demo_events/ and demo_campaigns/ under out_dir.

    Give customers, lines, both or neither (2,000 customers); a missing one follows from the
    persona mix, about 100 lines per customer. The transaction file has exactly `lines` rows.
    """
    if days < 7:
        raise ValueError(f"days must be at least 7, got {days}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    n_customers, n_lines = plan_sizes(customers, lines, days)
    window = Window(end_date, days)
    good_lines = n_lines - len(transaction_faults("", ""))
    customer_lines = round(good_lines * (1 - GUEST_SHARE))
    expected = expected_lines_per_customer(days) * (1 - GUEST_SHARE)
    # when both sizes are given, stretch invoice counts and basket sizes evenly to meet them
    scale = float(np.sqrt(customer_lines / (n_customers * expected)))

    people = sample_people(_rng(seed, _CUSTOMERS), n_customers, window)
    invoices = plan_invoices(
        _rng(seed, _INVOICES), people, window, customer_lines, good_lines - customer_lines, scale
    )
    sessions = plan_sessions(_rng(seed, _SESSIONS), people, invoices, window, scale)
    details = _rng(seed, _DETAILS)  # demographics and where the bad rows go
    out_dir = Path(out_dir)
    counts = write_customers(out_dir / "demo_customers" / "customers.csv", details, people, window)
    counts |= write_transactions(
        out_dir / "demo_transactions" / "transactions.csv.gz",
        (seed, _LINES),
        invoices,
        build_catalogue(_rng(seed, _CATALOGUE)),
        people,
        details,
    )
    counts |= write_events(
        out_dir / "demo_events" / "events.csv.gz", (seed, _EVENTS), sessions, people, details
    )
    counts |= write_campaigns(
        out_dir / "demo_campaigns" / "campaigns.csv",
        plan_campaigns(_rng(seed, _CAMPAIGNS), people, window),
        _rng(seed, _CAMPAIGN_FAULTS),
    )
    return counts


def campaign_plan(
    *,
    customers: int | None = None,
    lines: int | None = None,
    seed: int = 42,
    end_date: date = date(2025, 12, 31),
    days: int = 730,
) -> CampaignPlan:
    """The campaign sends and their true response probabilities of one generate_demo call
    (same arguments): the ground truth an uplift estimate is checked against."""
    n_customers, _ = plan_sizes(customers, lines, days)
    window = Window(end_date, days)
    people = sample_people(_rng(seed, _CUSTOMERS), n_customers, window)
    return plan_campaigns(_rng(seed, _CAMPAIGNS), people, window)


def plan_sizes(customers: int | None, lines: int | None, days: int = 730) -> tuple[int, int]:
    """(customers, transaction lines), filling in whichever was not given."""
    per_customer = expected_lines_per_customer(days)
    if customers is None and lines is None:
        customers = DEFAULT_CUSTOMERS
    if customers is None:
        customers = max(MIN_CUSTOMERS, round(lines / per_customer))
    if lines is None:
        lines = max(MIN_LINES, round(customers * per_customer))
    if customers < MIN_CUSTOMERS:
        raise ValueError(f"customers must be at least {MIN_CUSTOMERS}, got {customers}")
    if lines < max(MIN_LINES, MIN_LINES_PER_CUSTOMER * customers):
        raise ValueError(
            f"lines must be at least {MIN_LINES} and {MIN_LINES_PER_CUSTOMER:g} per customer "
            f"(got {lines} for {customers} customers); ask for more lines or fewer customers"
        )
    return customers, lines


def expected_lines_per_customer(days: int = 730) -> float:
    """Mean transaction lines per customer the persona mix produces, guest lines included.

    Averages each persona's buying span over an even grid of its sign-up range, so it is exact
    up to the grid and needs no random draws.
    """
    grid = (np.arange(2_000) + 0.5) / 2_000
    total = 0.0
    for persona in PERSONAS:
        if persona.invoices_per_year == 0 and not persona.one_purchase:
            continue
        lo, hi = signup_bounds(persona, days)
        start, end = active_span(persona, np.floor(lo + grid * (hi - lo)), days)
        if persona.one_purchase:
            invoices = 1.0
        else:
            mean = persona.invoices_per_year * (end - start) / 365.0
            shape = persona.dispersion
            # at least one invoice: E[max(N, 1)] = E[N] + P(N = 0)
            invoices = float(np.mean(mean + (shape / (shape + mean)) ** shape))
        total += persona.share * invoices * persona.basket_lines
    return total / (1 - GUEST_SHARE)


def _rng(seed: int, stage: int) -> np.random.Generator:
    return np.random.default_rng([seed, stage])
