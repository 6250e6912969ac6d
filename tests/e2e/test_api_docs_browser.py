"""`/docs` of `segments api` renders in headless Chromium on a machine without internet:
Swagger UI comes from the service itself, and it lists every route of the contract."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


browser_support = _load(HERE / "test_report_browser.py", "report_browser_support")
browser = browser_support.browser  # the headless Chromium fixture (skips when none installed)
server = _load(HERE.parent / "api" / "test_api_server.py", "api_server_support")


def test_docs_render_offline_with_every_route(browser: str, tmp_path: Path):
    world = server._api_world()
    settings = world.settings_for(tmp_path / "home")
    world.publish(settings, 0, 50)
    port = server.free_port()
    api = server.start_api(settings.home, tmp_path / "api.log", port)
    cdp = browser_support.Cdp(browser)
    try:
        for domain in ("Page", "Runtime", "Log"):
            cdp.send(f"{domain}.enable")
        cdp.send("Page.navigate", url=f"http://127.0.0.1:{port}/docs")
        cdp.wait_for("Page.loadEventFired", timeout=60)
        count_js = "document.querySelectorAll('.opblock').length"
        deadline = time.monotonic() + 60
        while (routes := cdp.evaluate(count_js) or 0) < 4 and time.monotonic() < deadline:
            time.sleep(0.5)
        paths = cdp.evaluate(
            "Array.from(document.querySelectorAll('.opblock-summary-path'))"
            ".map(e => e.getAttribute('data-path'))"
        )
        errors = cdp.errors()
    finally:
        cdp.close()
        api.terminate()
        api.wait(30)
    assert routes == 4, routes
    assert set(paths) == {
        "/health",
        "/customers/{customer_id}/segment",
        "/segments",
        "/segments/{segment_id}/customers",
    }
    assert errors == [], errors
