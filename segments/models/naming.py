"""Readable segment names and actions from profile z-scores, in RFM or demographic vocabulary."""

from __future__ import annotations

from collections.abc import Mapping

from segments.core.money import is_money

NOTABLE = 0.5  # |score| above this counts as high or low (rank score 0.5 ~ 69th percentile)
# "New customers" made their first purchase within this many days (about one quarter, the
# backtest horizon): newness is a fact about the segment's own dates, not a rank
NEW_CUSTOMER_DAYS = 90
RFM = ("recency_days", "frequency", "monetary")
DEMOGRAPHIC = ("annual_income", "spending_score", "age_years")

RFM_ACTIONS = {
    "Champions": "reward",
    "Net returners": "nurture",
    "New customers": "nurture",
    "Loyal customers": "retain",
    "At risk high spenders": "win back",
    "At risk loyal customers": "win back",
    "Lost customers": "reactivate",
    "Hibernating": "reactivate",
    "Big spenders": "reward",
    "Frequent buyers": "retain",
    "Promising": "nurture",
    "Occasional buyers": "nurture",
    "Long-standing customers": "retain",
    "Needs attention": "nurture",
}

FEATURE_TEXT = {
    "recency_days": ("days since last purchase", "{:,.0f}"),
    "frequency": ("orders", "{:,.1f}"),
    "monetary": ("spend", "{:,.0f}"),
    "tenure_days": ("days as a customer", "{:,.0f}"),
    "annual_income": ("income", "{:,.0f}"),
    "spending_score": ("spending score", "{:,.0f}"),
    "age_years": ("age", "{:,.0f}"),
    "p_alive": ("P(alive)", "{:.2f}"),
    "expected_purchases": ("expected purchases", "{:,.1f}"),
    "expected_value": ("expected value", "{:,.0f}"),
    "clv": ("lifetime value", "{:,.0f}"),
}


def humanize(feature: str) -> str:
    """Short human label for a feature column."""
    return FEATURE_TEXT.get(feature, (feature.replace("_", " "), ""))[0]


def fmt_value(feature: str, value: float, currency: str | None = None) -> str:
    """Format a feature value with its unit (money in `currency`, SEGMENTS_CURRENCY, if given)."""
    pattern = FEATURE_TEXT.get(feature, ("", "{:,.3g}"))[1] or "{:,.3g}"
    text = pattern.format(abs(value))
    text = f"-{text}" if value < 0 and text.strip("0.,") else text
    return f"{text} {currency}" if currency and is_money(feature) else text


def _rfm_name(
    z: Mapping[str, float], net_negative: bool = False, medians: Mapping[str, float] | None = None
) -> str:
    """RFM vocabulary, first matching rule wins; low recency is good, high F/M is good.

    Rank scores say how a segment compares with everyone; the segment's medians (when
    given) keep each name true in its own numbers: "New customers" first bought within
    NEW_CUSTOMER_DAYS, "loyal", "champions" and "frequent" buy repeatedly (median >= 2
    orders). A segment whose median recency is 295 days is never new.
    """
    if net_negative:
        return "Net returners"
    medians = medians or {}
    r = -z.get("recency_days", 0.0)
    f, m = z.get("frequency", 0.0), z.get("monetary", 0.0)
    t = z.get("tenure_days")
    recent, lapsed = r > NOTABLE, r < -NOTABLE
    orders, tenure = medians.get("frequency"), medians.get("tenure_days")
    recency = medians.get("recency_days")
    repeat = orders is None or orders >= 2
    if tenure is not None:
        new = tenure <= NEW_CUSTOMER_DAYS
    elif recency is not None:
        new = recency <= NEW_CUSTOMER_DAYS and recent and f < -NOTABLE
    else:
        new = (t < -NOTABLE and not lapsed) if t is not None else (recent and f < -NOTABLE)
    rules = [
        (recent and f > NOTABLE and m > NOTABLE and repeat, "Champions"),
        (new, "New customers"),
        (recent and f > NOTABLE and repeat, "Loyal customers"),
        (lapsed and m > NOTABLE, "At risk high spenders"),
        (lapsed and f > NOTABLE and repeat, "At risk loyal customers"),
        (lapsed and r < -3 * NOTABLE, "Lost customers"),
        (lapsed, "Hibernating"),
        (m > NOTABLE, "Big spenders"),
        (f > NOTABLE and repeat, "Frequent buyers"),
        (recent, "Promising"),
        (f < -NOTABLE, "Occasional buyers"),
        (t is not None and t > NOTABLE, "Long-standing customers"),
    ]
    return next((name for hit, name in rules if hit), "Needs attention")


def _level(value: float, high: str, low: str, mid: str) -> str:
    """Pick a word by the z-score band."""
    return high if value > NOTABLE else low if value < -NOTABLE else mid


def _demographic_name(z: Mapping[str, float]) -> tuple[str, str]:
    """Income / spending score / age vocabulary, e.g. 'High income, low spend'."""
    i, s, a = (z.get(c) for c in DEMOGRAPHIC)
    spend = s if s is not None else 0.0
    action = "nurture"
    if spend > NOTABLE:
        action = "reward" if (i or 0.0) > NOTABLE else "retain"
    elif spend < -NOTABLE:
        action = "nurture" if (i or 0.0) > NOTABLE else "reactivate"
    young = _level(a, "Older", "Young", "") if a is not None else ""
    if (i is None or abs(i) <= NOTABLE) and s is not None and (young or i is None):
        name = f"{young} {_level(s, 'high', 'low', 'average')} spenders".strip()
        return name[0].upper() + name[1:], action
    parts = []
    if i is not None:
        parts.append(_level(i, "High income", "Low income", "Average income"))
    if s is not None:
        parts.append(_level(s, "high spend", "low spend", "average spend"))
    name = ", ".join(parts) if parts else "Typical customers"
    name = name[0].upper() + name[1:]
    if young:
        name = f"{young} {name[0].lower()}{name[1:]}"
    return name, action


def _generic_name(z: Mapping[str, float]) -> str:
    """Fallback: the two most distinguishing features, e.g. 'High basket size, low tenure'."""
    top = sorted(z.items(), key=lambda kv: (-abs(kv[1]), kv[0]))[:2]
    words = [f"{'high' if v > 0 else 'low'} {humanize(k)}" for k, v in top if abs(v) > NOTABLE]
    return (", ".join(words)).capitalize() if words else "Typical customers"


def name_segment(
    z: Mapping[str, float],
    net_negative: bool = False,
    medians: Mapping[str, float] | None = None,
) -> tuple[str, str]:
    """(name, action) from per-feature scores (z-like) and the segment's medians;
    net_negative: median net revenue <= 0."""
    if any(c in z for c in RFM):
        name = _rfm_name(z, net_negative, medians)
        return name, RFM_ACTIONS[name]
    if any(c in z for c in DEMOGRAPHIC[:2]):
        return _demographic_name(z)
    return _generic_name(z), "nurture"


def unique_names(
    names: Mapping[int, str], sizes: Mapping[int, int], z: Mapping[int, Mapping[str, float]]
) -> dict[int, str]:
    """Disambiguate duplicates: the largest keeps the name, others add their biggest difference."""
    out: dict[int, str] = {}
    for seg in sorted(names, key=lambda s: (-sizes[s], s)):
        name, first = names[seg], next((s for s in out if names[s] == names[seg]), None)
        if first is not None:
            diffs = {f: z[seg][f] - z[first].get(f, 0.0) for f in z[seg]}
            feat = max(sorted(diffs), key=lambda f: abs(diffs[f]), default=None)
            if feat is not None:
                name = f"{name} ({'higher' if diffs[feat] > 0 else 'lower'} {humanize(feat)})"
        base, n = name, 2
        while name in out.values():
            name, n = f"{base} #{n}", n + 1
        out[seg] = name
    return dict(sorted(out.items()))


# What each RFM name claims about its segment, in the profile's own numbers: the segment's
# median against everyone's median (high: at or above; low: at or below), and absolute facts.
NAME_CLAIMS: dict[str, tuple[tuple[str, str], ...]] = {
    "Champions": (
        ("recency_days", "low"),
        ("frequency", "high"),
        ("monetary", "high"),
        ("frequency", ">=2"),
    ),
    "New customers": (("tenure_days", f"<={NEW_CUSTOMER_DAYS}"),),
    "Loyal customers": (("recency_days", "low"), ("frequency", "high"), ("frequency", ">=2")),
    "At risk high spenders": (("recency_days", "high"), ("monetary", "high")),
    "At risk loyal customers": (
        ("recency_days", "high"),
        ("frequency", "high"),
        ("frequency", ">=2"),
    ),
    "Lost customers": (("recency_days", "high"),),
    "Hibernating": (("recency_days", "high"),),
    "Big spenders": (("monetary", "high"),),
    "Frequent buyers": (("frequency", "high"), ("frequency", ">=2")),
    "Promising": (("recency_days", "low"),),
    "Occasional buyers": (("frequency", "low"),),
    "Long-standing customers": (("tenure_days", "high"),),
    "Net returners": (("monetary", "<=0"),),
}


def name_violations(
    name: str, medians: Mapping[str, float], population: Mapping[str, float]
) -> list[str]:
    """The claims of an RFM name (NAME_CLAIMS) that the segment's medians contradict."""
    base = name.split(" (")[0].split(" #")[0]
    out = []
    for feature, claim in NAME_CLAIMS.get(base, ()):
        if feature not in medians:
            continue
        value, everyone = medians[feature], population.get(feature)
        ok = {
            "high": everyone is None or value >= everyone,
            "low": everyone is None or value <= everyone,
            ">=2": value >= 2,
            "<=0": value <= 0,
        }.get(claim)
        if ok is None:  # "<=N"
            ok = value <= float(claim[2:])
        if not ok:
            out.append(f"{name}: median {feature} {value:g} is not {claim} (all: {everyone})")
    return out
