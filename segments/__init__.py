"""segments: orchestrated customer segmentation over a DuckDB warehouse.

One subpackage per pipeline stage, raw -> staging -> features -> models -> marts:
`ingest` (raw -> staging), `quality` (the gates), `features` (point-in-time SQL and CLV),
`models` (pure modelling), `lifecycle` (train, backtest, promote, score), `publish` (marts,
serving file, exports), `report` (run report, summary, status) and `demo` (generated data),
over `core` (database, SQL runner, lock, runs, PII keys) and `settings`. `cli` is the top
layer. The layer rules are the import-linter contracts in pyproject.toml; see
docs/architecture.md.
"""
