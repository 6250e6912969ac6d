"""Great Expectations plumbing: a throwaway context whose SQL datasource rides on our DuckDB.

GX is imported lazily (it takes seconds) and with analytics off, so importing this module
does no work and sends nothing anywhere.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.data_context import EphemeralDataContext

DOCS_SITE = "segments_dq"
_SQL_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def gx_context(docs_dir: Path | None) -> EphemeralDataContext:
    """A context that writes nothing but Data Docs (and their result store) under docs_dir.

    Results go to a filesystem store in docs_dir/_gx_store so each suite of a run, validated
    by its own context, still appears in one shared index page.
    """
    os.environ["GX_ANALYTICS_ENABLED"] = "false"  # before GX reads its config
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    defaults = InMemoryStoreBackendDefaults(init_temp_docs_sites=False)
    config = DataContextConfig(
        store_backend_defaults=defaults,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    if docs_dir is not None:
        store = docs_dir / "_gx_store"
        for name, sub in (
            (defaults.expectations_store_name, "expectations"),
            (defaults.validation_results_store_name, "validations"),
        ):
            config.stores[name]["store_backend"] = {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(store / sub),
            }
        config.data_docs_sites = {
            DOCS_SITE: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        }
    return gx.get_context(project_config=config, mode="ephemeral")


def sql_text(sql: str) -> str:
    """Turn `$name` into `getvariable('name')`: values travel as DuckDB variables, not text."""
    return _SQL_PARAM.sub(lambda m: f"getvariable('{m.group(1)}')", sql)


def _sql_value(value: Any) -> Any:
    """Values DuckDB can bind as a variable (lists and scalars pass as they are)."""
    return value.isoformat() if isinstance(value, datetime) and value.tzinfo else value


def validation_connection(con: duckdb.DuckDBPyConnection, variables: dict[str, Any]):
    """A DB-API connection for SQLAlchemy that shares `con`'s database and sees our variables.

    A second duckdb.connect() to the same file fails while `con` holds it with another
    configuration (duckdb-engine adds a user agent), and SQLAlchemy's implicit ROLLBACK on
    release wipes a result DuckDB has not yet fetched. So GX gets a cursor of `con` (same
    database instance, own transaction state) wrapped to run in autocommit: validation only
    reads, and each DuckDB statement is its own transaction.
    """
    from duckdb_engine import ConnectionWrapper

    class _AutocommitWrapper(ConnectionWrapper):
        def begin(self) -> None:
            """No explicit transaction: DuckDB autocommits each read."""

        def commit(self) -> None:
            """Nothing to commit: validation never writes."""

        def rollback(self) -> None:
            """Nothing to roll back, and a ROLLBACK would drop a pending result."""

    cursor = con.cursor()
    for name, value in variables.items():
        cursor.execute(f"set variable {name} = $value", {"value": _sql_value(value)})
    return _AutocommitWrapper(cursor)


def run_suite_gx(
    con: duckdb.DuckDBPyConnection,
    suite_doc: dict[str, Any],
    *,
    run_id: str,
    parameters: dict[str, Any],
    gx_params: dict[str, Any],
    docs_dir: Path | None,
    db_path: Path | None,
) -> tuple[ExpectationSuiteValidationResult, Path | None]:
    """Validate one suite document where the data lives; returns the result and docs index.

    `parameters` become DuckDB variables for SQL text; `gx_params` feed `$PARAMETER` kwargs.
    """
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )
    from sqlalchemy.pool import StaticPool

    context = gx_context(docs_dir)
    name, meta = suite_doc["name"], suite_doc["meta"]
    url = f"duckdb:///{db_path}" if db_path else "duckdb:///:memory:"  # dialect only
    datasource = context.data_sources.add_sql(
        name="warehouse",
        connection_string=url,
        create_temp_table=False,  # no copy of the batch: metrics query the relation itself
        kwargs={
            "poolclass": StaticPool,
            "creator": lambda: validation_connection(con, parameters),
        },
    )
    schema, table = meta["relation"].split(".")
    if meta.get("batch_filter"):
        query = f"select * from {schema}.{table} where {sql_text(meta['batch_filter'])}"
        asset = datasource.add_query_asset(name=name, query=query)
    else:
        asset = datasource.add_table_asset(name=name, table_name=table, schema_name=schema)
    batch_definition = asset.add_batch_definition_whole_table("batch")

    expectations = []
    for number, doc in enumerate(suite_doc["expectations"], start=1):
        doc = dict(doc)
        if doc["type"] == "unexpected_rows_expectation":
            kwargs = dict(doc["kwargs"])
            kwargs["unexpected_rows_query"] = sql_text(kwargs["unexpected_rows_query"])
            doc["kwargs"] = kwargs
        try:
            meta = {**doc.get("meta", {}), "number": number}  # maps results back to the JSON
            config = ExpectationConfiguration(type=doc["type"], kwargs=doc["kwargs"], meta=meta)
            expectations.append(config.to_domain_obj())
        except Exception as error:  # GX would drop it silently; a typo must not pass
            raise ValueError(
                f"suite {name!r}: expectation #{number} ({doc.get('type')}) is invalid: {error}"
            ) from error
    suite = gx.ExpectationSuite(name=name, expectations=expectations, meta=dict(meta))
    suite = context.suites.add_or_update(suite)  # a rerun of the run_id replaces it
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
    )
    actions = [gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=[DOCS_SITE])]
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=name,
            validation_definitions=[definition],
            actions=actions if docs_dir is not None else [],
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
        )
    )
    result = checkpoint.run(
        expectation_parameters=gx_params,
        run_id=RunIdentifier(run_name=run_id, run_time=datetime.now(UTC)),
    )
    (suite_result,) = result.run_results.values()
    index = docs_dir / "index.html" if docs_dir is not None else None
    return suite_result, index
