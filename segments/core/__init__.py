"""Shared infrastructure every stage uses: open DuckDB (`db`), run the warehouse SQL
(`sql`), prepare the warehouse (`warehouse`), hold the one-writer lock (`locks`), record runs
and stages in ops.runs and open a run (`runs`), keyed hashing of PII (`pii`), Parquet copies
in the lake (`lake`) and lazy package APIs (`lazy`). Nothing here knows about a stage."""
