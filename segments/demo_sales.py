"""Demo transactions in the UCI Online Retail shape: a catalogue, invoices, streamed lines.

Invoices (a few hundred thousand at 10M lines) are planned up front and sorted by time; their
lines are then drawn and written in chunks of consecutive invoices, so the file comes out in
InvoiceDate order without ever holding all lines in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segments.demo_catalogue import (
    COUNTRIES,
    GUEST,
    PACK_SIZES,
    PACK_WEIGHTS,
    PERSONAS,
    PRODUCT_COLOURS,
    PRODUCT_ITEMS,
    PRODUCT_STYLES,
    SHOP_HOUR_WEIGHTS,
    SHOP_HOURS,
)
from segments.demo_io import (
    CsvSink,
    Mutation,
    chunk_bounds,
    code_strings,
    replaced,
    take,
    timestamps,
)
from segments.demo_people import EXTRA_SIGNUPS, ID_WIDTH, People, Window, persona_field

TRANSACTION_HEADER = (
    "InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
    "CustomerID", "Country",
)
INVOICE_BASE = 536_365  # UCI's first invoice number
N_PRODUCTS = 3_000
MAX_BASKET = 500  # well under N_PRODUCTS: a basket never lists a product twice
GUEST_SHARE = 0.17  # of lines; UCI has 25% without CustomerID
CANCEL_SHARE = 0.02  # of invoices
CHUNK_LINES = 400_000
BAD_INVOICE_DATE = "2025-13-45 25:00:00"


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


def fit_total(rng: np.random.Generator, sizes: np.ndarray, target: int, minimum: np.ndarray,
              maximum: int = MAX_BASKET) -> np.ndarray:
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


def plan_invoices(rng: np.random.Generator, people: People, window: Window,
                  customer_lines: int, guest_lines: int, scale: float) -> Invoices:
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

    n_guest = 0 if guest_lines == 0 else int(np.clip(round(guest_lines / GUEST.basket_lines),
                                                     1, guest_lines))
    guest_days = window.sample_days(rng, np.zeros(n_guest, np.int64),
                                    np.full(n_guest, window.days, np.int64))
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
    size = fit_total(rng, size, customer_lines - int(returned[picked].sum()),
                     np.where(picked, returned, 1))
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
        country=np.concatenate([people.country[cust], guest_country,
                                people.country[cust[source]]])[order],
        cancel_pos=cancel_pos,  # built in sorted positions already
        cancel_start=cancel_start,
    )


def transaction_faults(orphan_id: str, spare_invoice: str) -> list[tuple[str, Mutation]]:
    """The bad rows, each a mutated copy of a normal line, plus two exact duplicates."""
    return [
        ("bad", lambda f: replaced(f, 3, "x3")),  # non-numeric Quantity
        ("bad", lambda f: replaced(f, 4, BAD_INVOICE_DATE)),
        ("bad", lambda f: replaced(f, 0, "")),  # empty InvoiceNo
        ("bad", lambda f: replaced(f, 5, "-" + f[5])),  # negative UnitPrice, not a return
        ("bad", lambda f: replaced(f, 3, "9999999")),  # absurd Quantity
        # a customer missing from customers.csv, on an invoice of its own
        ("bad", lambda f: replaced(replaced(f, 6, orphan_id), 0, spare_invoice)),
        ("duplicate", list),
        ("duplicate", list),
    ]


def write_transactions(path: Path, seed: int, invoices: Invoices, catalogue: Catalogue,
                       people: People, fault_rng: np.random.Generator) -> dict[str, int]:
    """Stream every line, chunk by chunk of consecutive invoices, with the bad rows slipped in."""
    first_line = np.concatenate([[0], np.cumsum(invoices.lines)])
    orphan = f"C{people.count + EXTRA_SIGNUPS + 1:0{ID_WIDTH}d}"
    faults = transaction_faults(orphan, str(INVOICE_BASE + len(invoices.ts)))
    eligible = np.flatnonzero(~invoices.cancel & (invoices.customer >= 0))
    hosts = fault_rng.choice(eligible, len(faults), replace=len(eligible) < len(faults))
    fault_lines = first_line[hosts]
    context = _LineContext(
        invoices=invoices,
        catalogue=catalogue,
        quantity_scale=people.quantity_scale,
        customer_ids=code_strings("C", np.arange(1, people.count + 1), ID_WIDTH),
        countries=pa.array([c for c, _ in COUNTRIES]),
    )
    pending = _Returns.empty()
    with CsvSink(path, TRANSACTION_HEADER) as sink:
        for chunk, (a, b) in enumerate(pairwise(chunk_bounds(first_line, CHUNK_LINES))):
            rng = np.random.default_rng([seed, 7, chunk])
            table, pending = context.chunk(rng, a, b, pending)
            here = (fault_lines >= first_line[a]) & (fault_lines < first_line[b])
            sink.write(table, after=[(int(fault_lines[i] - first_line[a]), faults[i][1])
                                     for i in np.flatnonzero(here)])
        rows = sink.rows
    return {
        "transaction_lines": rows,
        "bad_transactions": sum(kind == "bad" for kind, _ in faults),
        "duplicate_lines": sum(kind == "duplicate" for kind, _ in faults),
    }


@dataclass(frozen=True)
class _Returns:
    """Lines of future cancellations, drawn with their original invoice and held until due."""

    position: np.ndarray
    product: np.ndarray
    quantity: np.ndarray

    @classmethod
    def empty(cls) -> _Returns:
        none = np.zeros(0, np.int64)
        return cls(none, none, none)

    def plus(self, position: np.ndarray, product: np.ndarray, quantity: np.ndarray) -> _Returns:
        return _Returns(np.concatenate([self.position, position]),
                        np.concatenate([self.product, product]),
                        np.concatenate([self.quantity, quantity]))

    def where(self, mask: np.ndarray) -> _Returns:
        return _Returns(self.position[mask], self.product[mask], self.quantity[mask])


@dataclass(frozen=True)
class _LineContext:
    """What every chunk of lines needs; built once per file."""

    invoices: Invoices
    catalogue: Catalogue
    quantity_scale: np.ndarray
    customer_ids: pa.Array
    countries: pa.Array

    def chunk(self, rng: np.random.Generator, a: int, b: int, pending: _Returns
              ) -> tuple[pa.Table, _Returns]:
        """Lines of invoices a..b-1 (cancellations take theirs from `pending`)."""
        inv = self.invoices
        originals = a + np.flatnonzero(~inv.cancel[a:b])
        counts = inv.lines[originals]
        line_inv = np.repeat(originals, counts)
        line_no = np.arange(len(line_inv)) - np.repeat(np.cumsum(counts) - counts, counts)
        product = self._products(rng, inv.persona[line_inv], line_inv)
        quantity = self._quantities(rng, product, inv.customer[line_inv])
        target = inv.cancel_pos[line_inv]
        first = inv.cancel_start[line_inv]
        back = (target >= 0) & (line_no >= first)
        back &= line_no < first + inv.lines[np.maximum(target, 0)]
        pending = pending.plus(target[back], product[back],
                               -rng.integers(1, quantity[back] + 1))
        due = pending.position < b
        now = pending.where(due)
        position = np.concatenate([line_inv, now.position])
        order = np.argsort(position, kind="stable")
        position = position[order]
        product = np.concatenate([product, now.product])[order]
        quantity = np.concatenate([quantity, now.quantity])[order]
        numbers = pa.array(INVOICE_BASE + np.arange(a, b)).cast(pa.string())
        invoice_no = pc.if_else(pa.array(inv.cancel[a:b]),
                                pc.binary_join_element_wise("C", numbers, ""), numbers)
        customer = inv.customer[position]
        table = pa.table({
            "InvoiceNo": take(invoice_no, position - a),
            "StockCode": take(self.catalogue.codes, product),
            "Description": take(self.catalogue.descriptions, product),
            "Quantity": pa.array(quantity, pa.int64()),
            "InvoiceDate": timestamps(inv.ts[position]),
            "UnitPrice": take(self.catalogue.price_text, product),
            "CustomerID": take(self.customer_ids, np.maximum(customer, 0), missing=customer < 0),
            "Country": take(self.countries, inv.country[position]),
        })
        return table, pending.where(~due)

    def _products(self, rng: np.random.Generator, persona: np.ndarray, line_inv: np.ndarray
                  ) -> np.ndarray:
        """Products by persona taste, redrawn until no invoice lists one product twice."""
        product = np.zeros(len(persona), np.int64)
        for index, cdf in enumerate(self.catalogue.cdf):
            mask = persona == index
            product[mask] = np.searchsorted(cdf, rng.random(int(mask.sum())), side="right")
        for _ in range(100):
            key = line_inv * N_PRODUCTS + product
            order = np.argsort(key, kind="stable")
            repeated = order[1:][key[order][1:] == key[order][:-1]]
            if len(repeated) == 0:
                return product
            product[repeated] = rng.integers(0, N_PRODUCTS, len(repeated))
        raise RuntimeError("could not make basket products distinct")

    def _quantities(self, rng: np.random.Generator, product: np.ndarray, customer: np.ndarray
                    ) -> np.ndarray:
        """Pack sizes times the buyer's scale; cheap things go in bigger numbers."""
        weights = np.array(PACK_WEIGHTS)
        pack = np.array(PACK_SIZES)[rng.choice(len(weights), len(product),
                                               p=weights / weights.sum())]
        scale = np.where(customer >= 0, self.quantity_scale[np.maximum(customer, 0)],
                         rng.lognormal(0.0, 0.35, len(product)))
        cheap = np.clip((250.0 / self.catalogue.price_pence[product]) ** 0.3, 0.5, 3.0)
        return np.maximum(1, np.round(pack * scale * cheap)).astype(np.int64)
