"""Demo transaction lines (UCI Online Retail shape), streamed to transactions.csv.gz.

Lines are drawn in chunks of consecutive invoices of the time-ordered plan, so the file comes
out in InvoiceDate order without ever holding all lines in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segments.demo.catalogue import COUNTRIES, PACK_SIZES, PACK_WEIGHTS
from segments.demo.files import (
    CsvSink,
    Mutation,
    chunk_bounds,
    code_strings,
    replaced,
    take,
    timestamps,
)
from segments.demo.people import EXTRA_SIGNUPS, ID_WIDTH, People
from segments.demo.sales import INVOICE_BASE, N_PRODUCTS, Catalogue, Invoices

TRANSACTION_HEADER = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
CHUNK_LINES = 400_000
BAD_INVOICE_DATE = "2025-13-45 25:00:00"


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


def write_transactions(
    path: Path,
    stream: tuple[int, int],
    invoices: Invoices,
    catalogue: Catalogue,
    people: People,
    fault_rng: np.random.Generator,
) -> dict[str, int]:
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
            rng = np.random.default_rng([*stream, chunk])
            table, pending = context.chunk(rng, a, b, pending)
            here = (fault_lines >= first_line[a]) & (fault_lines < first_line[b])
            sink.write(
                table,
                after=[
                    (int(fault_lines[i] - first_line[a]), faults[i][1])
                    for i in np.flatnonzero(here)
                ],
            )
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
        return _Returns(
            np.concatenate([self.position, position]),
            np.concatenate([self.product, product]),
            np.concatenate([self.quantity, quantity]),
        )

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

    def chunk(
        self, rng: np.random.Generator, a: int, b: int, pending: _Returns
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
        pending = pending.plus(target[back], product[back], -rng.integers(1, quantity[back] + 1))
        due = pending.position < b
        now = pending.where(due)
        position = np.concatenate([line_inv, now.position])
        order = np.argsort(position, kind="stable")
        position = position[order]
        product = np.concatenate([product, now.product])[order]
        quantity = np.concatenate([quantity, now.quantity])[order]
        numbers = pa.array(INVOICE_BASE + np.arange(a, b)).cast(pa.string())
        invoice_no = pc.if_else(
            pa.array(inv.cancel[a:b]), pc.binary_join_element_wise("C", numbers, ""), numbers
        )
        customer = inv.customer[position]
        table = pa.table(
            {
                "InvoiceNo": take(invoice_no, position - a),
                "StockCode": take(self.catalogue.codes, product),
                "Description": take(self.catalogue.descriptions, product),
                "Quantity": pa.array(quantity, pa.int64()),
                "InvoiceDate": timestamps(inv.ts[position]),
                "UnitPrice": take(self.catalogue.price_text, product),
                "CustomerID": take(
                    self.customer_ids, np.maximum(customer, 0), missing=customer < 0
                ),
                "Country": take(self.countries, inv.country[position]),
            }
        )
        return table, pending.where(~due)

    def _products(
        self, rng: np.random.Generator, persona: np.ndarray, line_inv: np.ndarray
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

    def _quantities(
        self, rng: np.random.Generator, product: np.ndarray, customer: np.ndarray
    ) -> np.ndarray:
        """Pack sizes times the buyer's scale; cheap things go in bigger numbers."""
        weights = np.array(PACK_WEIGHTS)
        pack = np.array(PACK_SIZES)[
            rng.choice(len(weights), len(product), p=weights / weights.sum())
        ]
        scale = np.where(
            customer >= 0,
            self.quantity_scale[np.maximum(customer, 0)],
            rng.lognormal(0.0, 0.35, len(product)),
        )
        cheap = np.clip((250.0 / self.catalogue.price_pence[product]) ** 0.3, 0.5, 3.0)
        return np.maximum(1, np.round(pack * scale * cheap)).astype(np.int64)
