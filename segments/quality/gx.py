"""Great Expectations plumbing: a throwaway context whose SQL datasource rides on our DuckDB.

GX is imported lazily (it takes seconds) and with analytics off, so importing this module
does no work and sends nothing anywhere.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from jinja2 import BytecodeCache, FileSystemBytecodeCache
from jinja2.bccache import Bucket

from segments.quality.sql_checks import (
    batch_filter,
    batch_sql,
    sample_rows,
    sql_text,
    validation_connection,
)

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.data_context import EphemeralDataContext

DOCS_SITE = "segments_dq"
_JINJA_CACHE = "jinja"  # under docs_dir/_gx_store: compiled Data Docs templates


_COMPILED: dict[str, bytes] = {}  # template key -> bytecode, for this process


class _TemplateCache(BytecodeCache):
    """Jinja bytecode cache: in memory for this process, and on disk under the run's docs_dir.

    GX gives every Data Docs view its own Jinja environment and compiles its ~50 templates
    anew for each (3 to 4 views per suite): that compiling was most of the Data Docs time.
    Compiled templates do not depend on the environment (filters are looked up when a
    template renders) and Jinja keys them by source checksum, so one cache serves all views.
    """

    def __init__(self, directory: str | None) -> None:
        self.disk = None
        if directory:
            Path(directory).mkdir(parents=True, exist_ok=True)
            self.disk = FileSystemBytecodeCache(directory)

    def load_bytecode(self, bucket: Bucket) -> None:
        code = _COMPILED.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)
        elif self.disk is not None:
            self.disk.load_bytecode(bucket)
            if bucket.code is not None:
                _COMPILED[bucket.key] = bucket.bytecode_to_string()

    def dump_bytecode(self, bucket: Bucket) -> None:
        _COMPILED[bucket.key] = bucket.bytecode_to_string()
        if self.disk is not None:
            self.disk.dump_bytecode(bucket)


def _cached_view(base_name: str) -> type:
    from great_expectations.render import view as gx_view

    base = getattr(gx_view, base_name)

    def __init__(self: Any, template_cache_dir: str | None = None, **kwargs: Any) -> None:
        base.__init__(self, **kwargs)
        self.env.bytecode_cache = _TemplateCache(template_cache_dir)

    return type(f"Cached{base_name}", (base,), {"__init__": __init__, "__module__": __name__})


def __getattr__(name: str) -> type:
    """GX instantiates Data Docs views by module and class name; build them on first use."""
    if name in ("CachedDefaultJinjaPageView", "CachedDefaultJinjaIndexPageView"):
        view = _cached_view(name.removeprefix("Cached"))
        globals()[name] = view
        return view
    raise AttributeError(name)


def preload_gx() -> None:
    """Import Great Expectations and what validation uses of it, analytics off.

    GX takes seconds of CPU to import; a command calls this while it waits for something
    else (the temporary Prefect server), so the first validation stage does not pay it.
    """
    os.environ["GX_ANALYTICS_ENABLED"] = "false"  # before GX reads its config
    import great_expectations.core.run_identifier
    import great_expectations.expectations.expectation_configuration

    from segments.quality import custom

    del great_expectations, custom  # imported for their side effect: loaded modules


DATA_DOCS_POLICIES = ("on_failure", "always")  # SEGMENTS_DATA_DOCS


def gx_context(docs_dir: Path | None, *, keep_results: bool = True) -> EphemeralDataContext:
    """A context that writes nothing but Data Docs (and their result store) under docs_dir.

    With `keep_results`, results go to a filesystem store in docs_dir/_gx_store so the suites
    of every stage of a run (one context per stage) appear in one shared index page; without
    it they stay in memory and docs_dir is only written if Data Docs are built.
    """
    os.environ["GX_ANALYTICS_ENABLED"] = "false"  # before GX reads its config
    import great_expectations as gx

    # GX has no DuckDB type module and says so once per type check; generic types are meant.
    logging.getLogger("great_expectations.expectations.type_comparison").setLevel(logging.ERROR)
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
        kept = (
            (defaults.expectations_store_name, "expectations"),
            (defaults.validation_results_store_name, "validations"),
        )
        for name, sub in kept if keep_results else ():
            config.stores[name]["store_backend"] = {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(store / sub),
            }
        page_view = {
            "module_name": __name__,
            "class_name": "CachedDefaultJinjaPageView",
            "template_cache_dir": str(store / _JINJA_CACHE),
        }
        config.data_docs_sites = {
            DOCS_SITE: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_section_builders": {
                    section: {"view": page_view}
                    for section in ("expectations", "validations", "profiling")
                },
                "site_index_builder": {
                    "class_name": "DefaultSiteIndexBuilder",
                    "view": {**page_view, "class_name": "CachedDefaultJinjaIndexPageView"},
                },
            }
        }
    context = gx.get_context(project_config=config, mode="ephemeral")
    # An ephemeral context "saves" its whole config as YAML into an in-memory store that
    # nothing reads back, at every datasource, asset and suite added (~20 dumps a run, a
    # fraction of a second each stage): its config lives in the context object itself.
    context._save_project_config = _no_save
    return context


def _no_save() -> None:
    """Nothing to save: an ephemeral context's config is the object itself (see gx_context)."""


@dataclass
class SuiteRun:
    """One suite to validate: its JSON document and its parameters, already resolved.

    `parameters` become DuckDB variables for SQL text; `gx_params` feed `$PARAMETER` kwargs.
    """

    doc: dict[str, Any]
    parameters: dict[str, Any]
    gx_params: dict[str, Any]


RELATION_SCOPE = "relation"  # meta.scope of an expectation that sees the whole relation


def _expectations(doc: dict[str, Any], *, whole: bool | None = None) -> list[Any]:
    """The suite's expectations as GX objects; a typo fails here instead of being skipped.

    `whole` picks those with scope "relation" (True) or the others (False); None: all.
    """
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    from segments.quality import custom as gx_expectations

    expectations = []
    for number, written in enumerate(doc["expectations"], start=1):
        scoped = (written.get("meta") or {}).get("scope") == RELATION_SCOPE
        if whole is not None and scoped != whole:
            continue
        kind, kwargs = written["type"], dict(written["kwargs"])
        if kind == gx_expectations.SUITE_TYPE:
            kind = gx_expectations.GX_TYPE  # same check, its query run once (see module)
            kwargs["unexpected_rows_query"] = sql_text(kwargs["unexpected_rows_query"])
        try:
            numbered = {**written.get("meta", {}), "number": number}  # maps results to JSON
            config = ExpectationConfiguration(type=kind, kwargs=kwargs, meta=numbered)
            expectations.append(config.to_domain_obj())
        except Exception as error:  # GX would drop it silently; a typo must not pass
            raise ValueError(
                f"suite {doc['name']!r}: expectation #{number} ({written.get('type')}) is "
                f"invalid: {error}"
            ) from error
    return expectations


def _validate(
    context: Any,
    datasource: Any,
    part: str,
    meta: dict[str, Any],
    expectations: list[Any],
    *,
    whole: bool,
    gx_params: dict[str, Any],
    run_id: Any,
) -> ExpectationSuiteValidationResult:
    """Validate one part of a suite: its expectations against the batch or the relation."""
    import great_expectations as gx

    schema, table = meta["relation"].split(".")
    if whole:
        asset = datasource.add_table_asset(name=part, table_name=table, schema_name=schema)
    else:
        asset = datasource.add_query_asset(name=part, query=batch_sql(meta))
    suite = context.suites.add_or_update(  # a rerun of the run_id replaces it
        gx.ExpectationSuite(name=part, expectations=expectations, meta=dict(meta))
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(
            name=part, data=asset.add_batch_definition_whole_table("batch"), suite=suite
        )
    )
    return definition.run(  # stores the result for Data Docs
        expectation_parameters=gx_params,
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5},
        run_id=run_id,
    )


def run_suites_gx(
    con: duckdb.DuckDBPyConnection,
    runs: list[SuiteRun],
    *,
    run_id: str,
    docs_dir: Path | None,
    db_path: Path | None,
    data_docs: str = "always",
) -> tuple[list[tuple[ExpectationSuiteValidationResult, float]], Path | None]:
    """Validate suites where the data lives, in one GX context; Data Docs built once at the end.

    Returns each suite's result with its seconds, and the Data Docs index (None: not built).
    Each suite gets its own datasource, so its SQL sees its own variables (two suites may tune
    one name apart). `data_docs` "on_failure" builds them only if an expectation failed.
    """
    if data_docs not in DATA_DOCS_POLICIES:
        raise ValueError(f"data_docs must be one of {DATA_DOCS_POLICIES}, got {data_docs!r}")
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )
    from sqlalchemy.pool import StaticPool

    context = gx_context(docs_dir, keep_results=data_docs == "always")
    url = f"duckdb:///{db_path}" if db_path else "duckdb:///:memory:"  # dialect only
    gx_run_id = RunIdentifier(run_name=run_id, run_time=datetime.now(UTC))
    results, built = [], []
    for run in runs:
        started = time.perf_counter()
        name, meta = run.doc["name"], run.doc["meta"]
        datasource = context.data_sources.add_sql(
            name=name,
            connection_string=url,
            create_temp_table=False,  # no copy of the batch: metrics query the relation itself
            kwargs={
                "poolclass": StaticPool,
                "creator": lambda variables=run.parameters: validation_connection(con, variables),
            },
        )
        # A filtered suite (batch_filter, or only the new loads' rows when incremental) checks
        # its batch; its expectations with scope "relation" (row counts, freshness) see the
        # whole relation, validated as a second part named <suite>__relation.
        filtered = batch_filter(meta) is not None
        scoped = filtered and any(
            (e.get("meta") or {}).get("scope") == RELATION_SCOPE for e in run.doc["expectations"]
        )
        parts = [(name, False), (f"{name}__relation", True)] if scoped else [(name, None)]
        merged = None
        for part, whole in parts:
            expectations = _expectations(run.doc, whole=whole)
            if not expectations:
                continue
            result = _validate(
                context, datasource, part, meta, expectations, whole=bool(whole) or not filtered,
                gx_params=run.gx_params, run_id=gx_run_id,
            )  # fmt: skip
            for outcome in result.results:
                config = outcome.expectation_config
                if "unexpected_rows_query" in config.kwargs and not outcome.success:
                    outcome.result.setdefault("details", {})["unexpected_rows"] = sample_rows(
                        con,
                        config.kwargs["unexpected_rows_query"],
                        meta,
                        run.parameters,
                        whole=bool(whole),
                    )
            suite_id = ExpectationSuiteIdentifier(name=part)
            built += [
                suite_id,
                ValidationResultIdentifier(
                    expectation_suite_identifier=suite_id,
                    run_id=gx_run_id,
                    batch_identifier=result.batch_id,
                ),
            ]
            if merged is None:
                merged = result
            else:  # one result per suite for ops.dq_results (rows map back by number)
                merged.results = [*merged.results, *result.results]
        results.append((merged, time.perf_counter() - started))
    failed = any(  # per expectation: a suite's two parts are merged into one result
        not outcome.success for result, _ in results if result for outcome in result.results
    )
    if docs_dir is None or (data_docs == "on_failure" and not failed):
        return results, None
    context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=built)
    return results, docs_dir / "index.html"
