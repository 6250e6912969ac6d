"""Demo customers: who they are (personas, demographics) and when they are active."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segments.demo.catalogue import (
    COUNTRIES,
    FEMALE_NAMES,
    LAST_NAMES,
    MALE_NAMES,
    PERSONAS,
    Persona,
)
from segments.demo.files import CsvSink, code_strings, dates, take

CUSTOMER_HEADER = (
    "customer_id",
    "name",
    "email",
    "gender",
    "birth_date",
    "annual_income",
    "country",
    "signup_date",
)
BROWSER = next(i for i, p in enumerate(PERSONAS) if p.name == "browser")
ID_WIDTH = 7
EXTRA_SIGNUPS = 2  # bad sign-ups after the real customers: a bad birth date, a negative income
BAD_BIRTH_DATE = "1987-02-31"
_DAY = 86_400


@dataclass(frozen=True)
class Window:
    """The `days` whole days ending at end_date; every timestamp falls inside."""

    end_date: date
    days: int

    @property
    def start_day(self) -> int:
        """First day, in days since 1970-01-01."""
        first = self.end_date - timedelta(days=self.days - 1)
        return (first - date(1970, 1, 1)).days

    @property
    def start_ts(self) -> int:
        return self.start_day * _DAY

    @property
    def end_ts(self) -> int:
        """Exclusive: midnight after end_date."""
        return (self.start_day + self.days) * _DAY

    def day_weights(self) -> np.ndarray:
        """Shopping intensity per day: quieter weekends, a November-December peak (as in UCI)."""
        day = np.arange(self.start_day, self.start_day + self.days)
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        weight = np.where(weekday == 5, 0.5, np.where(weekday == 6, 0.8, 1.0))
        day_of_year = (
            day.astype("datetime64[D]") - day.astype("datetime64[D]").astype("datetime64[Y]")
        ).astype(np.int64)
        return weight * (1.0 + 0.6 * np.exp(-(((day_of_year - 325) / 22.0) ** 2)))

    def sample_days(self, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """One day in [lo, hi) per element, following day_weights (inverse CDF)."""
        cum = np.concatenate([[0.0], np.cumsum(self.day_weights())])
        x = cum[lo] + rng.random(len(lo)) * (cum[hi] - cum[lo])
        return np.clip(np.searchsorted(cum, x, side="right") - 1, lo, hi - 1)


@dataclass(frozen=True)
class People:
    """Customers in id order (index i has id i+1); the last EXTRA_SIGNUPS rows are bad."""

    persona: np.ndarray  # persona index, for all rows
    signup: np.ndarray  # day offset from the window start; negative before the window
    start: np.ndarray  # first active day (>= 0), real customers only
    end: np.ndarray  # day after the last active day
    country: np.ndarray  # for all rows
    basket_scale: np.ndarray
    quantity_scale: np.ndarray

    @property
    def count(self) -> int:
        """Real customers (rows that can have activity)."""
        return len(self.start)


def persona_field(name: str) -> np.ndarray:
    """One Persona attribute as an array indexed by persona number."""
    return np.array([getattr(p, name) for p in PERSONAS], dtype=np.float64)


def signup_bounds(persona: Persona, days: int) -> tuple[float, float]:
    """Sign-up day range relative to the window start."""
    lo = persona.signup_from[0] + persona.signup_from[1] * days
    hi = persona.signup_to[0] + persona.signup_to[1] * days
    return lo, hi


def active_span(persona: Persona, signup: np.ndarray, days: int) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) days in which a customer who signed up on `signup` buys."""
    start = np.clip(signup, 0, days - 1)
    end = np.maximum(start + 1, round(persona.active_until * days))
    return start, np.minimum(end, days)


def apportion(total: int, shares: np.ndarray) -> np.ndarray:
    """Split `total` by `shares` exactly (largest remainder), so small demos keep the mix."""
    exact = total * shares / shares.sum()
    counts = np.floor(exact).astype(np.int64)
    leftover = total - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:leftover]] += 1
    return counts


def sample_people(rng: np.random.Generator, n: int, window: Window) -> People:
    """Personas, sign-up days (ids follow sign-up order) and buying spans of n customers."""
    counts = apportion(n, persona_field("share"))
    persona = rng.permutation(np.repeat(np.arange(len(PERSONAS)), counts))
    signup = np.zeros(n, dtype=np.int64)
    for index, spec in enumerate(PERSONAS):
        mask = persona == index
        lo, hi = signup_bounds(spec, window.days)
        signup[mask] = np.floor(lo + rng.random(mask.sum()) * (hi - lo))
    signup = np.minimum(signup, window.days - 1)
    order = np.argsort(signup, kind="stable")
    persona, signup = persona[order], signup[order]
    start = np.zeros(n, dtype=np.int64)
    end = np.zeros(n, dtype=np.int64)
    for index, spec in enumerate(PERSONAS):
        mask = persona == index
        start[mask], end[mask] = active_span(spec, signup[mask], window.days)
    weights = np.array([w for _, w in COUNTRIES])
    country = rng.choice(len(COUNTRIES), size=n + EXTRA_SIGNUPS, p=weights / weights.sum())
    quantity_scale = persona_field("quantity_scale")[persona] * rng.lognormal(0.0, 0.35, n)
    return People(
        persona=np.concatenate([persona, np.full(EXTRA_SIGNUPS, BROWSER)]),
        signup=np.concatenate([signup, np.full(EXTRA_SIGNUPS, window.days - 1)]),
        start=start,
        end=end,
        country=country,
        basket_scale=rng.lognormal(-0.08, 0.4, n),  # mean 1: scales the persona's basket
        quantity_scale=quantity_scale,
    )


def customer_table(rng: np.random.Generator, people: People, window: Window) -> pa.Table:
    """Demographics for every row of `people`; age and income lean on the persona."""
    rows = len(people.persona)
    gender = rng.choice(3, size=rows, p=[0.505, 0.48, 0.015])  # F, M, blank
    male = (gender == 1) | ((gender == 2) & (rng.random(rows) < 0.5))
    female_pick = rng.integers(0, len(FEMALE_NAMES), rows)
    male_pick = rng.integers(0, len(MALE_NAMES), rows)
    first_names = pa.array(FEMALE_NAMES + MALE_NAMES)
    first = take(first_names, np.where(male, len(FEMALE_NAMES) + male_pick, female_pick))
    last = take(pa.array(LAST_NAMES), rng.integers(0, len(LAST_NAMES), rows))
    number = pa.array(rng.integers(1, 1000, rows)).cast(pa.string())
    email = pc.binary_join_element_wise(
        pc.utf8_lower(first), ".", pc.utf8_lower(last), number, "@example.com", ""
    )
    age = np.clip(rng.normal(persona_field("age_mean")[people.persona], 11.0), 18, 88)
    end_day = window.start_day + window.days - 1
    birth = end_day - np.floor(age * 365.25).astype(np.int64) - rng.integers(0, 365, rows)
    log_income = np.log(31_000 * persona_field("income_scale")[people.persona]) + 0.01 * (
        np.clip(age, 18, 60) - 40
    )  # earnings rise into mid-life
    income = np.maximum(8_000, np.round(rng.lognormal(log_income, 0.45) / 100) * 100)
    return pa.table(
        {
            "customer_id": code_strings("C", np.arange(1, rows + 1), ID_WIDTH),
            "name": pc.binary_join_element_wise(first, last, " "),
            "email": email,
            "gender": take(pa.array(["F", "M"]), gender % 2, missing=gender == 2),
            "birth_date": dates(birth),
            "annual_income": pa.array(income.astype(np.int64)),
            "country": take(pa.array([c for c, _ in COUNTRIES]), people.country),
            "signup_date": dates(window.start_day + people.signup),
        }
    )


def write_customers(
    path: Path, rng: np.random.Generator, people: People, window: Window
) -> dict[str, int]:
    """customers.csv: real customers in id order, then bad sign-ups, then one later update."""
    table = customer_table(rng, people, window)
    n = people.count
    blank_host, update_host = (int(i) for i in rng.choice(n, size=2, replace=False))
    names = [c for c, _ in COUNTRIES]

    def updated(fields: list[str]) -> list[str]:
        # moved abroad and got a raise: a new version of the record, not a duplicate
        income = str(round(int(fields[5]) * 5 / 4, -2))
        country = names[(names.index(fields[6]) + 1) % len(names)]
        return fields[:5] + [income, country] + fields[7:]

    with CsvSink(path, CUSTOMER_HEADER) as sink:
        sink.write(table.slice(0, n), after=[(blank_host, lambda f: [""] + f[1:])])
        bad_birth = CsvSink.fields(table, n)
        sink.append(bad_birth[:4] + [BAD_BIRTH_DATE] + bad_birth[5:])
        negative = CsvSink.fields(table, n + 1)
        sink.append(negative[:5] + ["-" + negative[5]] + negative[6:])
        sink.append(updated(CsvSink.fields(table, update_host)))
        rows = sink.rows
    return {"customers": rows, "bad_customers": 3, "customer_updates": 1}
