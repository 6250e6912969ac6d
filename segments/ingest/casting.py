"""Build the SELECTs that type a scratch relation through a mapping and give each row a reason.

Typing follows the file's own column types: text is parsed (formats, decimal comma, '6.5'
is not an integer), a typed column (Parquet INTEGER, DOUBLE, DATE, TIMESTAMP, TIMESTAMPTZ) is
taken as it is. Identifiers come only from the validated mapping (quoted); constants of the
mapping reach SQL as escaped literals, values of the file never do.
"""

from __future__ import annotations

from segments.ingest.expressions import parse_expression
from segments.ingest.sources import ENTITY_COLUMNS, TARGET_TYPES, Column, SourceMapping

_SQL_TYPE = {"integer": "integer", "bigint": "bigint", "double": "double", "boolean": "boolean"}
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")  # fmt: skip
_TEMPORAL = ("DATE", "TIMESTAMP")  # prefixes: TIMESTAMP_NS, TIMESTAMP WITH TIME ZONE, ...
# Entity rules: (macro giving the code of a typed row's problem, macro giving its reason),
# both defined in warehouse/schema/02_ingest_rules.sql.
ENTITY_RULES: dict[str, tuple[str, str]] = {
    "transactions": (
        "transaction_line_problem(quantity, is_cancellation)",
        "transaction_line_problem_reason",
    ),
    # campaign feedback: a conversion cannot come before the message that caused it
    "campaigns": (
        "campaign_line_problem(sent_at, converted_at)",
        "campaign_line_problem_reason",
    ),
}
# Dates checked for plausibility, and their floor: activity cannot predate the date floor
# (the mapping's `date_floor`, else SEGMENTS_DATE_FLOOR); people are born after 1900.
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


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def source_of(target: str, column: Column) -> str:
    """The scratch column a target reads: its file column, or its expression's column."""
    return column.source if column.source is not None else f"_x_{target}"


def _is(kind: str, sql_type: str) -> bool:
    if kind == "numeric":
        return sql_type.split("(")[0] in _NUMERIC
    return sql_type.startswith(_TEMPORAL)


def present_expr(src: str, sql_type: str) -> str:
    """SQL: the raw value is there (not NULL, and for text not blank)."""
    if sql_type == "VARCHAR":
        return f"nullif(trim({quoted(src)}), '') is not null"
    return f"{quoted(src)} is not null"


def text_expr(src: str, sql_type: str) -> str:
    """SQL: the raw value as trimmed text (NULL when blank)."""
    ref = quoted(src) if sql_type == "VARCHAR" else f"{quoted(src)}::varchar"
    return f"nullif(trim({ref}), '')"


def typed_expr(column: Column, src: str, sql_type: str, decimal: str = ".") -> str:
    """SQL turning the scratch column into its typed value (NULL when it does not parse)."""
    x = text_expr(src, sql_type)
    ref = quoted(src)
    if column.type == "id":
        expr = rf"nullif(regexp_replace({x}, '\.0+$', ''), '')"
    elif column.type == "varchar":
        expr = x
    elif column.type in ("date", "timestamp") and _is("temporal", sql_type):
        expr = f"{ref}::timestamp::{column.type}"  # TIMESTAMPTZ: UTC (the session zone)
    elif column.type in ("date", "timestamp"):
        tries = [f"try_strptime({x}, {literal(fmt)})" for fmt in column.formats]
        if not column.formats:
            tries.append(f"try_cast({x} as timestamp)")
        expr = f"coalesce({', '.join(tries)})::{column.type}"
    elif column.type == "boolean" and sql_type == "BOOLEAN":
        expr = ref
    elif column.type in ("integer", "bigint") and _is("numeric", sql_type):
        whole = "" if "INT" in sql_type else f" and {ref} = trunc({ref})"
        expr = (
            f"case when isfinite({ref}::double){whole} then try_cast({ref} as {column.type}) end"
        )
    elif _is("numeric", sql_type):
        expr = f"try_cast({ref} as {_SQL_TYPE[column.type]})"
    else:
        number = f"replace({x}, {literal(decimal)}, '.')" if decimal != "." else x
        expr = f"try_cast({number} as {_SQL_TYPE[column.type]})"
        if column.type in ("integer", "bigint"):  # DuckDB would round '6.5' to 7 silently
            expr = rf"case when regexp_full_match({x}, '[+-]?[0-9]+(\.0*)?') then {expr} end"
    if column.scale is not None and column.type in ("integer", "bigint", "double"):
        expr = f"({expr} * {float(column.scale)!r})::{_SQL_TYPE[column.type]}"
    if column.values:
        cases = " ".join(
            f"when {literal(k)} then {literal(v)}" for k, v in sorted(column.values.items())
        )
        expr = f"(case {expr} {cases} end)"
    return expr


def _column_checks(mapping: SourceMapping, target: str, index: int) -> list[tuple[str, str, str]]:
    """(code, predicate, reason SQL) for one target, in priority order.

    Predicates read `_typed`: typed targets and the flags `_has_<i>` / `_pat_<i>`; reasons
    may also read `_rawtext_<i>` (the raw value as read, see `raw_columns`).
    """
    column = mapping.targets[target]
    label = column.source or f"{target} (expression)"
    raw = f"_rawtext_{index}"
    checks = []
    if mapping.is_required(target):
        checks.append(
            (
                "missing_required",
                f"not _has_{index}",
                literal(f"required {target} ({label}) is empty"),
            )
        )
    if column.pattern is not None:
        checks.append(
            (
                "pattern_mismatch",
                f"_has_{index} and not _pat_{index}",
                f"{literal(f'{label} ')} || {raw} || {literal(f' does not match {column.pattern}')}",
            )
        )
    kind = "value" if column.values else column.type
    if kind != "varchar":  # text always "parses": only recoded values and types can fail
        checks.append(
            (
                f"invalid_{kind}",
                f"_has_{index} and {target} is null",
                f"{literal(f'{label} ')} || {raw} || {literal(f' is not a valid {kind}')}",
            )
        )
    if column.type == "double" and column.finite:
        checks.append(
            (
                "non_finite",
                f"not isfinite({target})",
                (
                    f"{literal(f'{label} ')} || {target}::varchar || "
                    f"{literal(' is not a finite number (NaN or infinity)')}"
                ),
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
                    f"{literal(f'{label} ')} || {target}::varchar || "
                    f"{literal(f' is outside [{column.min}, {column.max}]')}"
                ),
            )
        )
    if target in DATE_FLOORS:
        floor = DATE_FLOORS[target]
        where = (
            f"the date floor ' || {floor}::varchar || ' (date_floor of mapping {mapping.name}, "
            "else SEGMENTS_DATE_FLOOR)"
            if floor == "$date_floor"
            else floor.removeprefix("date ").strip("'")
        )
        checks.append(
            (
                "implausible_date",
                f"{target} < {floor}",
                f"{literal(f'{label} ')} || {target}::varchar || ' is before {where}'",
            )
        )
        checks.append(
            (
                "implausible_date",
                f"{target} > $latest_allowed",
                f"{literal(f'{label} ')} || {target}::varchar || ' is in the future'",
            )
        )
    return checks


def checks(mapping: SourceMapping) -> list[tuple[str, str, str]]:
    """Every (code, predicate, reason SQL) of a mapping, in priority order."""
    found = [
        chk
        for i, target in enumerate(mapping.targets)
        for chk in _column_checks(mapping, target, i)
    ]
    if mapping.entity in ENTITY_RULES:
        problem, reason = ENTITY_RULES[mapping.entity]
        found.append((problem, f"{problem} is not null", f"{reason}({problem})"))
    return found


def _code_case(found: list[tuple[str, str, str]]) -> str:
    whens = []
    for code, pred, _ in found:
        value = code if "(" in code else literal(code)  # an entity rule's macro gives the code
        whens.append(f"when {pred} then {value}")
    return "case " + " ".join(whens) + " end" if whens else "null::varchar"


def duplicate_key(mapping: SourceMapping) -> str:
    """SQL over typed (or staged) columns: the native hash that narrows the duplicate check.

    Two lines repeating every value share their natural key, so the key's hash is enough to
    find the few lines worth comparing; without a natural key, the hash of every value.
    """
    return f"hash({', '.join(mapping.natural_key or list(mapping.targets))})"


def typed_select(
    mapping: SourceMapping,
    types: dict[str, str],
    scratch: str,
    constants: dict[str, str] | None = None,
) -> str:
    """The SELECT typing `scratch` through the mapping: every entity column in its staging
    type, flags, is_cancellation, line number, `_reason_code` (NULL for a good row) and `_k`
    (`duplicate_key`).

    Each value is parsed once, in an inner SELECT, and the rules run over its result in the
    outer one (DuckDB keeps the two projections apart, so no rule re-parses a column).
    `constants` replaces `$name` parameters by SQL literals, so the SELECT can be a view.
    """
    parts, flags = ["_line_number"], []
    for i, (name, column) in enumerate(mapping.targets.items()):
        src = source_of(name, column)
        # in its staging type (a date target of a timestamp column), so staged and new rows
        # compare like with like; try_cast: a bigint too large for the column is invalid
        expr = typed_expr(column, src, types[src], mapping.csv.decimal)
        parts.append(f"try_cast({expr} as {TARGET_TYPES.get(name, 'varchar')}) as {name}")
        flags.append(f"{present_expr(src, types[src])} as _has_{i}")
        if column.pattern is not None:
            text = text_expr(src, types[src])
            flags.append(
                f"coalesce(regexp_full_match({text}, {literal(column.pattern)}), false) as _pat_{i}"
            )
    rule = mapping.cancellation_rule
    if rule is not None and rule.when is not None:
        when = parse_expression(rule.when, mapping.declared_sources, "cancellation")[0]
        flags.append(f"coalesce(({when}), false) as _when")
    # a column the mapping leaves out is NULL from the start, so every rule can name it
    parts += [
        f"null::{TARGET_TYPES.get(c, 'varchar')} as {c}"
        for c in ENTITY_COLUMNS[mapping.entity]
        if c not in mapping.targets
    ]
    columns = list(ENTITY_COLUMNS[mapping.entity])
    outer = ["_line_number", *columns, *[f.rsplit(" as ", 1)[1] for f in flags]]
    code = _code_case(checks(mapping))
    if mapping.entity == "transactions":
        cancel = cancellation_sql(mapping)
        outer.append(f"{cancel} as is_cancellation")
        code = code.replace("is_cancellation)", f"{cancel})")  # the rule, inlined once more
    outer.append(f"{duplicate_key(mapping)} as _k")
    sql = (
        f"select {', '.join(outer)}, {code} as _reason_code "
        f"from (select {', '.join(parts + flags)} from {scratch})"
    )
    for name, value in sorted((constants or {}).items(), key=lambda kv: -len(kv[0])):
        sql = sql.replace(f"${name}", value)
    return sql


def cancellation_sql(mapping: SourceMapping) -> str:
    """SQL: is this typed line a cancellation, by the mapping's rule (default prefix C)."""
    rule = mapping.cancellation_rule
    if rule is None:
        return "false"
    if rule.invoice_prefix is not None:
        return (
            f"coalesce(invoice_is_cancellation(invoice_id, {literal(rule.invoice_prefix)}), false)"
        )
    return "_when"


def reason_expr(mapping: SourceMapping) -> str:
    """The readable reason of a typed row's first failing check (only run on bad rows)."""
    found = checks(mapping)
    if not found:
        return "null::varchar"
    return "case " + " ".join(f"when {p} then {r}" for _, p, r in found) + " end"


def raw_columns(mapping: SourceMapping) -> str:
    """SQL over the scratch row for the quarantine: `_raw_values` (JSON of the row as read,
    PII already pseudonyms, keyed by file column) and `_rawtext_<i>` for each reason."""
    pairs = ", ".join(f"{quoted(c)} := {quoted(c)}" for c in sorted(mapping.declared_sources))
    texts = [
        f"left(trim({quoted(source_of(t, c))}::varchar), 60) as _rawtext_{i}"
        for i, (t, c) in enumerate(mapping.targets.items())
    ]
    return ", ".join([f"to_json(struct_pack({pairs})) as _raw_values", *texts])
