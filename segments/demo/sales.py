"""Demo sales: the product catalogue and every invoice, planned up front in time order.

Invoices are few (about 600k at 10M lines), so they live in memory as arrays; their lines are
drawn later, chunk by chunk, by `segments.demo.lines`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from segments.demo.catalogue import (
    COUNTRIES,
    GUEST,
    PERSONAS,
    PRODUCT_COLOURS,
    PRODUCT_ITEMS,
    PRODUCT_STYLES,
    SHOP_HOUR_WEIGHTS,
    SHOP_HOURS,
)
from segments.demo.people import People, Window, persona_field

INVOICE_BASE = 536_365  # UCI's first invoice number
N_PRODUCTS = 3_000
MAX_BASKET = 500  # well under N_PRODUCTS: a basket never lists a product twice
GUEST_SHARE = 0.17  # of lines; UCI has 25% without CustomerID
CANCEL_SHARE = 0.02  # of invoices


@dataclass(frozen=True)
class Catalogue:
    """Products with UCI-like codes, descriptions and log-normal prices."""

    codes: pa.Array
    descriptions: pa.Array
    price_text: pa.Array
    price_pence: np.ndarray
    cdf: np.ndarray  # (persona or guest, product): cumulative pick probability


@dataclass(frozen=True)
class Invoices:
    """Every invoice in InvoiceDate order; position i is invoice number INVOICE_BASE + i."""

    ts: np.ndarray
    customer: np.ndarray  # customer index, -1 for a guest
    lines: np.ndarray
    cancel: np.ndarray
    persona: np.ndarray  # len(PERSONAS) for guests
    country: np.ndarray
    cancel_pos: np.ndarray  # for an original: position of its cancellation, else -1
    cancel_start: np.ndarray  # for an original: first of the lines its cancellation returns


def build_catalogue(rng: np.random.Generator) -> Catalogue:
    """N_PRODUCTS products; popularity is Zipf-like and each persona tilts it by price."""
    numbers = np.sort(rng.choice(np.arange(10_000, 90_000), N_PRODUCTS, replace=False))
    suffix = rng.choice(6, N_PRODUCTS, p=[0.85, 0.05, 0.04, 0.03, 0.02, 0.01])
    codes = [f"{n}{' ABCDE'[s].strip()}" for n, s in zip(numbers.tolist(), suffix.tolist())]
    styles_items = len(PRODUCT_STYLES) * len(PRODUCT_ITEMS)
    combo = rng.choice(len(PRODUCT_COLOURS) * styles_items, N_PRODUCTS, replace=False)
    colour, rest = np.divmod(combo, styles_items)
    style, item = np.divmod(rest, len(PRODUCT_ITEMS))
    descriptions = [
        f"{PRODUCT_COLOURS[c]} {PRODUCT_STYLES[s]} {PRODUCT_ITEMS[i][0]}"
        for c, s, i in zip(colour.tolist(), style.tolist(), item.tolist())
    ]
    base = np.array([price for _, price in PRODUCT_ITEMS])[item]
    pence = np.maximum(5, np.round(base * rng.lognormal(0.0, 0.45, N_PRODUCTS) * 100))
    pence = pence.astype(np.int64)
    popularity = (rng.permutation(N_PRODUCTS) + 1.0) ** -0.9
    rows = []
    for persona in (*PERSONAS, GUEST):
        weight = popularity * (pence / 100.0) ** persona.price_tilt
        cdf = np.cumsum(weight) / weight.sum()
        cdf[-1] = 1.0
        rows.append(cdf)
    return Catalogue(
        codes=pa.array(codes),
        descriptions=pa.array(descriptions),
        price_text=pa.array([f"{p // 100}.{p % 100:02d}" for p in pence.tolist()]),
        price_pence=pence,
        cdf=np.vstack(rows),
    )


def fit_total(
    rng: np.random.Generator,
    sizes: np.ndarray,
    target: int,
    minimum: np.ndarray,
    maximum: int = MAX_BASKET,
) -> np.ndarray:
    """Nudge integer sizes to sum to exactly `target`, each within [minimum, maximum]."""
    sizes = np.clip(sizes, minimum, maximum).astype(np.int64)
    if not minimum.sum() <= target <= maximum * len(sizes):
        raise ValueError(
            f"cannot spread {target} lines over {len(sizes)} invoices; "
            "ask for more lines per customer (or fewer customers)"
        )
    while (gap := target - int(sizes.sum())) > 0:
        weight = np.where(sizes < maximum, sizes, 0).astype(np.float64)  # grow big ones more
        sizes = np.minimum(sizes + rng.multinomial(gap, weight / weight.sum()), maximum)
    if gap < 0:
        slack = sizes - minimum
        sizes -= rng.multivariate_hypergeometric(slack, -gap, method="marginals")
    return sizes


def _shop_times(rng: np.random.Generator, window: Window, day: np.ndarray) -> np.ndarray:
    """Epoch seconds on `day` during shop hours, whole minutes as in UCI."""
    weights = np.array(SHOP_HOUR_WEIGHTS, dtype=np.float64)
    hour = np.array(SHOP_HOURS)[rng.choice(len(weights), len(day), p=weights / weights.sum())]
    minute = rng.integers(0, 60, len(day))
    return window.start_ts + day * 86_400 + hour * 3_600 + minute * 60


def plan_invoices(
    rng: np.random.Generator,
    people: People,
    window: Window,
    customer_lines: int,
    guest_lines: int,
    scale: float,
) -> Invoices:
    """Invoices per customer (negative binomial per persona), guests and cancellations."""
    n = people.count
    persona = people.persona[:n]
    yearly = persona_field("invoices_per_year")[persona]
    rate = yearly * (people.end - people.start) / 365.0 * scale
    shape = persona_field("dispersion")[persona]
    counts = np.maximum(rng.negative_binomial(shape, shape / (shape + rate)), 1)
    counts[yearly == 0] = 0
    counts[np.array([p.one_purchase for p in PERSONAS])[persona]] = 1
    cust = np.repeat(np.arange(n), counts)
    ts = _shop_times(rng, window, window.sample_days(rng, people.start[cust], people.end[cust]))
    mean = persona_field("basket_lines")[persona[cust]] * people.basket_scale[cust] * scale
    size = np.minimum(rng.geometric(1.0 / np.clip(mean, 1.0, MAX_BASKET)), MAX_BASKET)

    n_guest = min(guest_lines, max(1, round(guest_lines / GUEST.basket_lines)))
    guest_days = window.sample_days(
        rng, np.zeros(n_guest, np.int64), np.full(n_guest, window.days, np.int64)
    )
    guest_ts = _shop_times(rng, window, guest_days)
    guest_size = rng.geometric(1.0 / GUEST.basket_lines, n_guest)
    guest_size = fit_total(rng, guest_size, guest_lines, np.ones(n_guest, np.int64))
    weights = np.array([w for _, w in COUNTRIES])
    guest_country = rng.choice(len(COUNTRIES), n_guest, p=weights / weights.sum())

    # A cancellation returns a few lines of an earlier invoice of the same customer.
    chance = min(0.5, CANCEL_SHARE * (len(cust) + n_guest) / max(len(cust), 1))
    delay = 3_600 + np.round(rng.exponential(7 * 86_400, len(cust)) / 60) * 60
    cancel_ts = ts + delay.astype(np.int64)
    picked = (rng.random(len(cust)) < chance) & (cancel_ts < window.end_ts)
    returned = np.minimum(size, rng.geometric(0.55, len(cust)))
    size = fit_total(
        rng, size, customer_lines - int(returned[picked].sum()), np.where(picked, returned, 1)
    )
    start = rng.integers(0, np.maximum(size - returned, 0) + 1)  # used where picked

    source = np.flatnonzero(picked)
    originals = len(cust) + n_guest
    all_ts = np.concatenate([ts, guest_ts, cancel_ts[source]])
    order = np.argsort(all_ts, kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    cancel_pos = np.full(len(order), -1, np.int64)
    cancel_pos[position[source]] = position[originals + np.arange(len(source))]
    cancel_start = np.zeros(len(order), np.int64)
    cancel_start[position[source]] = start[source]
    customer = np.concatenate([cust, np.full(n_guest, -1), cust[source]])
    guest_persona = np.full(n_guest, len(PERSONAS))
    return Invoices(
        ts=all_ts[order],
        customer=customer[order],
        lines=np.concatenate([size, guest_size, returned[source]])[order],
        cancel=(np.arange(len(order)) >= originals)[order],
        persona=np.concatenate([persona[cust], guest_persona, persona[cust[source]]])[order],
        country=np.concatenate(
            [people.country[cust], guest_country, people.country[cust[source]]]
        )[order],
        cancel_pos=cancel_pos,  # built in sorted positions already
        cancel_start=cancel_start,
    )
