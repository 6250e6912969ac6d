"""Probabilistic CLV: BG/NBD for purchases and P(alive), Gamma-Gamma for spend, in scipy.

Why our own scipy code and not a library: lifetimes 0.11.3 still fits on numpy 2 / pandas 3,
but it has been archived since 2020 (no fixes for new pandas; some methods already return bare
arrays instead of Series), and PyMC-Marketing pulls in PyMC + PyTensor (a compiler toolchain)
for what is a 4-parameter and a 3-parameter maximum-likelihood fit. The formulas are short and
published, so we implement them here and keep lifetimes as a test-only reference
(tests/sql/test_clv_fit.py checks parameters and predictions against it and against the
published CDNOW estimates).

References
- Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to the
  Pareto/NBD Model", Marketing Science 24(2): likelihood eq. 6, conditional expectation
  eq. 10; P(alive) from their note "Computing P(alive) Using the BG/NBD Model" (2008).
- Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base
  Analysis", JMR 42(4); Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value".

Inputs are the lifetimes summary the feature layer computes (features.customer_features:
lt_frequency, lt_recency_days, lt_t_days, lt_monetary), in days.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = [
    "customer_id",
    "lt_frequency",
    "lt_recency_days",
    "lt_t_days",
    "lt_monetary",
]
DAYS_PER_MONTH = 30.0  # lifetimes' customer_lifetime_value convention for freq="D"
MIN_REPEAT_CUSTOMERS = 10  # below this the Gamma-Gamma fit is not identified; fall back


@dataclass(frozen=True)
class BgNbdParams:
    """BG/NBD: purchase rate ~ Gamma(r, alpha) (alpha in days), dropout p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float


@dataclass(frozen=True)
class GammaGammaParams:
    """Gamma-Gamma: spend per purchase ~ Gamma(p, nu), nu ~ Gamma(q, v)."""

    p: float
    q: float
    v: float
    log_likelihood: float


@dataclass(frozen=True)
class ClvFit:
    """Per-customer predictions and the fitted parameters (gamma_gamma None on fallback)."""

    customers: pd.DataFrame
    bgnbd: BgNbdParams
    gamma_gamma: GammaGammaParams | None


# Log-parameters of the rescaled data stay within +-LOG_BOUND: a parameter at the bound means
# the data do not identify it (e.g. no sign of dropout sends a and b to infinity); the
# predictions are still those of the limiting model, and the fit stays fast and finite.
LOG_BOUND = 12.0


def _minimize(
    nll: Callable[[np.ndarray], float], size: int, seed: int, restarts: int = 3
) -> np.ndarray:
    """L-BFGS-B on bounded log-parameters from 0; seeded restarts only if that start fails."""
    rng = np.random.default_rng(seed)
    bounds = [(-LOG_BOUND, LOG_BOUND)] * size
    best = None
    for attempt in range(restarts + 1):
        start = np.zeros(size) if attempt == 0 else rng.uniform(-2.0, 2.0, size)
        with np.errstate(all="ignore"):
            result = minimize(
                nll,
                start,
                method="L-BFGS-B",
                bounds=bounds,
                options={"ftol": 1e-13, "gtol": 1e-9, "maxiter": 5_000},
            )
        if np.isfinite(result.fun) and (best is None or result.fun < best.fun):
            best = result
        # restart only when out of iterations or not finite; an ABNORMAL line search means no
        # step improves the loss (a flat ridge toward a bound), which a restart does not change
        if best is not None and (best.success or best.status == 2):
            break
    if best is None:
        raise RuntimeError("CLV fit failed from every start; check the summary for bad rows")
    if not best.success:
        log.info(
            "CLV fit ended without strict convergence (%s): %s",
            best.message,
            np.round(np.exp(best.x), 4),
        )
    return best.x


def _finite(value: float) -> float:
    """Keep the optimiser's line search away from overflow (inf/nan -> a huge loss)."""
    return value if np.isfinite(value) else 1e100


def _condense(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique rows and their counts: the likelihood is summed per pattern (as FHL do)."""
    stacked = np.column_stack(columns)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype(float)


def bgnbd_log_likelihood(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, t_x: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """Per-customer log-likelihood, FHL (2005) eq. 6, in a log-sum-exp form."""
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + t)
    # the second term exists only for repeat buyers: B(a+1, b+x-1)/B(a, b+x) = a / (b+x-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return a1 + a2 + np.logaddexp(a3, a4)


def fit_bgnbd(
    frequency: np.ndarray,
    recency: np.ndarray,
    t: np.ndarray,
    seed: int = 42,
    penalizer: float = 0.0,
) -> BgNbdParams:
    """Maximum-likelihood BG/NBD on (x, t_x, T); time is rescaled for conditioning.

    penalizer: L2 penalty on the (rescaled) parameters, as lifetimes' penalizer_coef; 0 gives
    the plain MLE (the published estimates).
    """
    frequency, recency, t = (np.asarray(v, dtype=float) for v in (frequency, recency, t))
    if len(t) == 0 or not np.any(frequency > 0):
        raise ValueError("BG/NBD needs at least one repeat buyer; no lt_frequency > 0")
    if np.any(recency > t) or np.any(frequency < 0):
        raise ValueError("summary is inconsistent: need 0 <= lt_recency_days <= lt_t_days")
    # rescale time so the longest T is 10 (lifetimes does the same); alpha scales back after
    scale = 10.0 / max(float(t.max()), 1.0)
    (x, t_x, big_t), weights = _condense(frequency, recency * scale, t * scale)
    total = weights.sum()

    def nll(log_params: np.ndarray) -> float:
        params = np.exp(log_params)
        ll = bgnbd_log_likelihood(*params, x, t_x, big_t)
        return _finite(-float(np.dot(weights, ll)) / total + penalizer * float(params @ params))

    r, alpha, a, b = np.exp(_minimize(nll, 4, seed))
    alpha /= scale
    # the log-likelihood in the summary's own time unit (FHL report -9582.4 on CDNOW, weeks)
    ll = float(
        np.dot(weights, bgnbd_log_likelihood(r, alpha, a, b, x, t_x / scale, big_t / scale))
    )
    return BgNbdParams(r=float(r), alpha=float(alpha), a=float(a), b=float(b), log_likelihood=ll)


def expected_purchases(
    params: BgNbdParams,
    horizon_days: float | np.ndarray,
    frequency: np.ndarray,
    recency: np.ndarray,
    t: np.ndarray,
) -> np.ndarray:
    """E[purchases in the next horizon_days | x, t_x, T], FHL (2005) eq. 10."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, t))
    horizon = np.asarray(horizon_days, dtype=float)
    z = horizon / (alpha + big_t + horizon)
    numerator = (
        (a + b + x - 1)
        / (a - 1)
        * (
            1
            - ((alpha + big_t) / (alpha + big_t + horizon)) ** (r + x)
            * hyp2f1(r + x, b + x, a + b + x - 1, z)
        )
    )
    return numerator / (1 + (x > 0) * _alive_odds_against(params, x, t_x, big_t))


def _alive_odds_against(
    params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
) -> np.ndarray:
    """a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x): odds that a repeat buyer has dropped out."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    log_odds = (
        np.log(a)
        - np.log(b + np.maximum(x, 1) - 1)
        + (r + x) * np.log((alpha + big_t) / (alpha + t_x))
    )
    return np.exp(log_odds)


def probability_alive(
    params: BgNbdParams, frequency: np.ndarray, recency: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """P(still active | x, t_x, T); 1 for a customer without repeat purchases (BG/NBD)."""
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, t))
    odds = _alive_odds_against(params, x, t_x, big_t)
    return np.where(x > 0, 1.0 / (1.0 + odds), 1.0)


def gamma_gamma_log_likelihood(
    p: float, q: float, v: float, x: np.ndarray, m: np.ndarray
) -> np.ndarray:
    """Per-customer log-likelihood of mean spend m over x repeat purchases (Fader-Hardie 2013)."""
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(x * m + v)
    )


def fit_gamma_gamma(
    frequency: np.ndarray, monetary: np.ndarray, seed: int = 42, penalizer: float = 0.0
) -> GammaGammaParams:
    """Maximum-likelihood Gamma-Gamma on repeat buyers with a positive mean spend.

    Fails (ValueError) when it cannot give a finite population mean spend (q <= 1) or has
    too few repeat buyers; fit_clv then falls back to the plain mean repeat spend.
    """
    frequency, monetary = np.asarray(frequency, dtype=float), np.asarray(monetary, dtype=float)
    keep = (frequency > 0) & (monetary > 0)
    if keep.sum() < MIN_REPEAT_CUSTOMERS:
        raise ValueError(
            f"Gamma-Gamma needs at least {MIN_REPEAT_CUSTOMERS} repeat buyers with spend > 0, "
            f"got {int(keep.sum())}"
        )
    # rescale money so the mean spend is 1; v scales back after (p and q are unit-free)
    scale = 1.0 / float(monetary[keep].mean())
    (x, m), weights = _condense(frequency[keep], monetary[keep] * scale)
    total = weights.sum()

    def nll(log_params: np.ndarray) -> float:
        params = np.exp(log_params)
        ll = gamma_gamma_log_likelihood(*params, x, m)
        return _finite(-float(np.dot(weights, ll)) / total + penalizer * float(params @ params))

    p, q, v = np.exp(_minimize(nll, 3, seed))
    if q <= 1:
        raise ValueError(f"Gamma-Gamma fit has q = {q:.3g} <= 1: no finite mean spend")
    v /= scale
    ll = float(np.dot(weights, gamma_gamma_log_likelihood(p, q, v, x, m / scale)))
    return GammaGammaParams(p=float(p), q=float(q), v=float(v), log_likelihood=ll)


def expected_average_value(
    params: GammaGammaParams, frequency: np.ndarray, monetary: np.ndarray
) -> np.ndarray:
    """E[spend per purchase | x, m]: the customer's mean shrunk toward the population mean."""
    p, q, v = params.p, params.q, params.v
    x, m = np.asarray(frequency, dtype=float), np.asarray(monetary, dtype=float)
    weight = p * x / (p * x + q - 1)
    population_mean = v * p / (q - 1)
    return (1 - weight) * population_mean + weight * m


def discounted_clv(
    params: BgNbdParams,
    value: np.ndarray,
    frequency: np.ndarray,
    recency: np.ndarray,
    t: np.ndarray,
    horizon_months: int,
    monthly_discount_rate: float,
    days_per_month: float = DAYS_PER_MONTH,
) -> np.ndarray:
    """Sum over months of value x expected purchases in that month / (1 + d)^month.

    Same scheme as lifetimes' customer_lifetime_value (months of 30 days for daily data).
    """
    clv = np.zeros(len(np.asarray(t)), dtype=float)
    previous = np.zeros_like(clv)
    for month in range(1, horizon_months + 1):
        cumulative = expected_purchases(params, month * days_per_month, frequency, recency, t)
        clv += value * (cumulative - previous) / (1 + monthly_discount_rate) ** month
        previous = cumulative
    return clv


def fit_clv(
    summary: pd.DataFrame,
    horizon_months: int = 12,
    monthly_discount_rate: float = 0.01,
    seed: int = 42,
    penalizer: float = 0.0,
    fit_sample: int | None = None,
) -> ClvFit:
    """Fit BG/NBD + Gamma-Gamma on the lifetimes summary and predict CLV over the horizon.

    summary: one row per customer with SUMMARY_COLUMNS (e.g. read from
    features.customer_features). Returns per customer: expected_purchases_horizon, p_alive,
    expected_avg_value, clv (gross of returns: lifetimes' monetary is purchase value).
    horizon_months are months of 30 days (lifetimes' convention); the discount rate is monthly.
    penalizer: L2 penalty for both fits (as lifetimes' penalizer_coef; try 0.001-0.1 when a
    small or odd customer base will not converge).
    fit_sample: fit the parameters on a seeded sample of at most this many customers (drawn
    in value order) and predict for every customer; None fits on all (the feature stage).
    """
    missing = set(SUMMARY_COLUMNS) - set(summary.columns)
    if missing:
        raise KeyError(f"summary lacks {sorted(missing)}; read it from features.customer_features")
    x = summary["lt_frequency"].to_numpy(dtype=float)
    t_x = summary["lt_recency_days"].to_numpy(dtype=float)
    big_t = summary["lt_t_days"].to_numpy(dtype=float)
    m = summary["lt_monetary"].to_numpy(dtype=float)

    # The fits see rows in value order: their sums, and so the parameters to the last bit,
    # do not depend on row order or on the customer ids (the pseudonym key); a model that
    # ranks p_alive would otherwise change with the key.
    order = np.lexsort((m, big_t, t_x, x))
    if fit_sample is not None and len(order) > fit_sample:
        pick = np.random.default_rng(seed).choice(len(order), size=fit_sample, replace=False)
        order = order[np.sort(pick)]
    bgnbd = fit_bgnbd(x[order], t_x[order], big_t[order], seed=seed, penalizer=penalizer)
    try:
        gamma_gamma: GammaGammaParams | None = fit_gamma_gamma(
            x[order], m[order], seed=seed, penalizer=penalizer
        )
        value = expected_average_value(gamma_gamma, x, m)
    except ValueError as error:
        # spend not identified (too few repeat buyers, q <= 1): the plain mean repeat spend
        log.warning("Gamma-Gamma not fitted (%s); using the mean repeat spend", error)
        gamma_gamma = None
        positive = m[order][(x[order] > 0) & (m[order] > 0)]
        value = np.full_like(m, float(positive.mean()) if len(positive) else 0.0)

    customers = pd.DataFrame(
        {
            "customer_id": summary["customer_id"].to_numpy(),
            "expected_purchases_horizon": expected_purchases(
                bgnbd, horizon_months * DAYS_PER_MONTH, x, t_x, big_t
            ),
            "p_alive": probability_alive(bgnbd, x, t_x, big_t),
            "expected_avg_value": value,
            "clv": discounted_clv(
                bgnbd, value, x, t_x, big_t, horizon_months, monthly_discount_rate
            ),
        }
    )
    return ClvFit(customers=customers, bgnbd=bgnbd, gamma_gamma=gamma_gamma)
