"""Build the SELECT that types a scratch table through a mapping and gives each row a reason.

Identifiers come only from the validated mapping (quoted); values reach SQL as literals
produced by `_literal`, never from file contents.
"""

from __future__ import annotations

from segments.ingest.sources import Column, SourceMapping

_SQL_TYPE = {"integer": "integer", "bigint": "bigint", "double": "double", "boolean": "boolean"}

# Entity rules: (code, predicate over typed columns, reason). First failing rule wins.
ENTITY_RULES: dict[str, list[tuple[str, str, str]]] = {
    "transactions": [
        ("zero_quantity", "quantity = 0", "quantity is 0: the line moves nothing"),
        (
            "negative_quantity_not_cancellation",
            "quantity < 0 and not starts_with(upper(invoice_id), 'C')",
            "negative quantity on an invoice that is not a cancellation (a stock adjustment)",
        ),
        (
            "cancellation_positive_quantity",
            "quantity > 0 and starts_with(upper(invoice_id), 'C')",
            "a cancellation invoice with a positive quantity",
        ),
    ],
    "customers": [],
    "events": [],
    # campaign feedback: a conversion cannot come before the message that caused it
    "campaigns": [
        (
            "converted_before_sent",
            "converted_at < sent_at",
            "converted_at is before sent_at: a response cannot precede its campaign",
        ),
    ],
}
# Dates checked for plausibility, and their floor: activity cannot predate the configured
# floor; people are born long before it (but after 1900).
DATE_FLOORS = {
    "invoiced_at": "$date_floor",
    "event_at": "$date_floor",
    "signup_date": "$date_floor",
    "sent_at": "$date_floor",
    "opened_at": "$date_floor",
    "clicked_at": "$date_floor",
    "converted_at": "$date_floor",
    "birth_date": "date '1900-01-01'",
}


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def typed_expr(column: Column, decimal: str = ".") -> str:
    """SQL turning the text column into its typed value (NULL when it does not parse)."""
    x = f"nullif(trim({_quoted(column.source)}), '')"
    if column.type == "id":
        expr = rf"nullif(regexp_replace({x}, '\.0+$', ''), '')"
    elif column.type == "varchar":
        expr = x
    elif column.type in ("date", "timestamp"):
        tries = [f"try_strptime({x}, {_literal(fmt)})" for fmt in column.formats]
        if not column.formats:
            tries.append(f"try_cast({x} as timestamp)")
        expr = f"coalesce({', '.join(tries)})::{column.type}"
    else:
        number = f"replace({x}, {_literal(decimal)}, '.')" if decimal != "." else x
        expr = f"try_cast({number} as {_SQL_TYPE[column.type]})"
        if column.type in ("integer", "bigint"):  # DuckDB would round '6.5' to 7 silently
            expr = rf"case when regexp_full_match({x}, '[+-]?[0-9]+(\.0*)?') then {expr} end"
        if column.scale is not None:
            expr = f"({expr} * {float(column.scale)!r})::{_SQL_TYPE[column.type]}"
    if column.values:
        cases = " ".join(
            f"when {_literal(k)} then {_literal(v)}" for k, v in sorted(column.values.items())
        )
        expr = f"(case {expr} {cases} end)"
    return expr


def _column_checks(target: str, column: Column, index: int) -> list[tuple[str, str, str]]:
    """(code, predicate, reason SQL) for one column, in priority order."""
    raw = f"nullif(trim(_raw_{index}), '')"
    src = column.source
    checks = []
    if column.required:
        checks.append(
            ("missing_required", f"{raw} is null", _literal(f"required {target} ({src}) is empty"))
        )
    if column.pattern is not None:
        checks.append(
            (
                "pattern_mismatch",
                f"{raw} is not null and not regexp_full_match({raw}, {_literal(column.pattern)})",
                (
                    f"{_literal(f'{src} ')} || left({raw}, 60) || "
                    f"{_literal(f' does not match {column.pattern}')}"
                ),
            )
        )
    kind = "value" if column.values else column.type
    if kind != "varchar":  # text always "parses": only recoded values and types can fail
        checks.append(
            (
                f"invalid_{kind}",
                f"{raw} is not null and {target} is null",
                f"{_literal(f'{src} ')} || left({raw}, 60) || {_literal(f' is not a valid {kind}')}",
            )
        )
    if column.min is not None or column.max is not None:
        lo = f"{target} < {column.min}" if column.min is not None else "false"
        hi = f"{target} > {column.max}" if column.max is not None else "false"
        checks.append(
            (
                "out_of_range",
                f"({lo} or {hi})",
                (
                    f"{_literal(f'{src} ')} || {target}::varchar || "
                    f"{_literal(f' is outside [{column.min}, {column.max}]')}"
                ),
            )
        )
    if target in DATE_FLOORS:
        checks.append(
            (
                "implausible_date",
                f"({target} < {DATE_FLOORS[target]} or {target} > $latest_allowed)",
                (
                    f"{_literal(f'{src} ')} || {target}::varchar || "
                    "' is before the date floor or in the future'"
                ),
            )
        )
    return checks


def _checks(mapping: SourceMapping) -> list[tuple[str, str, str]]:
    """Every (code, predicate, reason SQL) of a mapping, in priority order."""
    checks = [
        chk for i, (t, c) in enumerate(mapping.columns.items()) for chk in _column_checks(t, c, i)
    ]
    checks += [
        (code, pred, _literal(reason))
        for code, pred, reason in ENTITY_RULES[mapping.entity]
        if all(col in mapping.columns for col in _rule_columns(mapping.entity))
    ]
    return checks


def typed_statements(mapping: SourceMapping, table: str, target: str) -> list[str]:
    """Statements creating temp `target`: typed columns, raw text (`_raw_<n>`), line, code.

    Typed values are stored first and the rules run over the stored values: in one SELECT
    DuckDB re-parses each column inside every rule that mentions it (twice the CPU).
    """
    typed = {t: typed_expr(c, mapping.csv.decimal) for t, c in mapping.columns.items()}
    inner = ", ".join(
        [f"{expr} as {t}" for t, expr in typed.items()]
        + [f"{_quoted(c.source)} as _raw_{i}" for i, c in enumerate(mapping.columns.values())]
        + ["_line_number"]
    )
    checks = _checks(mapping)
    code = (
        "case " + " ".join(f"when {p} then {_literal(c)}" for c, p, _ in checks) + " end"
        if checks
        else "null::varchar"
    )
    return [
        f"create or replace temp table {target}_values as select {inner} from {table}",
        (
            f"create or replace temp table {target} as select *, {code} as _reason_code "
            f"from {target}_values"
        ),
        f"drop table {target}_values",
    ]


def reason_expr(mapping: SourceMapping) -> str:
    """The readable reason of a typed row's first failing check (only run on bad rows)."""
    checks = _checks(mapping)
    if not checks:
        return "null::varchar"
    return "case " + " ".join(f"when {p} then {r}" for _, p, r in checks) + " end"


_RULE_COLUMNS = {
    "transactions": ("quantity", "invoice_id"),
    "campaigns": ("sent_at", "converted_at"),
}


def _rule_columns(entity: str) -> tuple[str, ...]:
    return _RULE_COLUMNS.get(entity, ())


def raw_struct(mapping: SourceMapping) -> str:
    """JSON of the raw text values of a typed row, keyed by the file's column names."""
    pairs = ", ".join(
        f"{_quoted(c.source)} := _raw_{i}" for i, c in enumerate(mapping.columns.values())
    )
    return f"to_json(struct_pack({pairs}))"
