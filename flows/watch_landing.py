"""Watch landing/ and load files as they land, one event per load (`segments watch`)."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.context import cycle_run_context
from flows.params import WatchParams
from segments.settings import Settings
from segments.watch import landing_watcher, run_watch, stop_on_signals
from tasks.watch import emit_load_events, load_landed_task


@flow(name="watch_landing", log_prints=True)
def watch_landing(params: WatchParams | None = None) -> dict[str, Any]:
    """Poll every interval; each cycle that finds ready files is a run of its own (the lock
    for that cycle only), then emits `segments.load.completed` per load."""
    params = params or WatchParams()
    settings = Settings()
    interval = params.interval_seconds or settings.watch_interval_seconds
    watcher = landing_watcher(settings)

    def cycle(n: int) -> str:
        ready = watcher.poll()
        if not ready:
            return "idle"
        files = [str(f.path) for f in ready]
        with cycle_run_context(n, lock_timeout_s=interval, params={"files": files}) as (
            ctx,
            summary,
        ):
            results = load_landed_task(ctx, ready)
            summary["loads"] = [r.as_dict() for r in results]
        watcher.mark_handled(ready)
        for r in results:
            print(f"{r.status} {r.source}/{r.path}: {r.rows_staged} rows staged ({r.load_id})")
        emit_load_events(results, ctx.run_id)
        return "loaded"

    with stop_on_signals() as stop:
        counts = run_watch(cycle, interval_s=interval, stop=stop, max_cycles=params.max_cycles)
    print(f"watcher stopped after {counts['cycles']} polls: {counts}")
    return counts


if __name__ == "__main__":
    watch_landing()
