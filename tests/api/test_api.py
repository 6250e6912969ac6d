"""The lookup service through FastAPI's TestClient over real publishes of a small world."""

from __future__ import annotations

import gzip
import logging
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from segments.api import (
    ApiSettingsError,
    RedactCustomerIds,
    ServingReader,
    check_settings,
    create_app,
)
from segments.core.pii import pseudonym
from segments.settings import Settings


def _api_world():
    """The service tests' small world (tests/api/api_world.py; tests are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "api_world", Path(__file__).with_name("api_world.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


api_world = _api_world()


@pytest.fixture
def world(tmp_path: Path) -> Settings:
    settings = api_world.settings_for(tmp_path / "home")
    api_world.publish(settings, 0)
    return settings


@pytest.fixture
def client(world: Settings) -> TestClient:
    return TestClient(create_app(world))


def _pseudonym(raw: str) -> str:
    return pseudonym(raw, api_world.KEY.encode())


def test_health_names_the_served_publish(client: TestClient):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert (body["as_of"], body["run_id"], body["model_version"]) == ("2026-01-01", "run-0", "m1")
    assert body["customers"] == 200


@pytest.mark.parametrize("given", ["crm-00005", " crm-00005 ", "crm-00005.0", "crm-00005.00"])
def test_a_raw_id_is_found_by_its_pseudonym(client: TestClient, given: str):
    body = client.get(f"/customers/{given}/segment").json()
    assert body["customer_id"] == _pseudonym("crm-00005")
    expected = api_world.assignments(0, 200)[_pseudonym("crm-00005")]
    assert body["segment_id"] == expected
    assert body["action"].startswith("treat as") and body["currency"] == "GBP"
    assert body["segment_since"] == "2026-01-01" and body["as_of"] == "2026-01-01"
    assert "crm-00005" not in str(body)  # the raw id is never returned


def test_a_pseudonymous_id_is_found_as_stored(client: TestClient):
    stored = _pseudonym("crm-00007")
    assert client.get(f"/customers/{stored}/segment").json()["customer_id"] == stored


@pytest.mark.parametrize("given", ["crm-99999", "0" * 24, ".0"])
def test_an_unknown_customer_is_a_json_404(client: TestClient, given: str):
    response = client.get(f"/customers/{given}/segment")
    assert response.status_code == 404
    assert response.json()["error"] == "customer_not_found"


def test_segments_lists_the_profiles(client: TestClient):
    body = client.get("/segments").json()
    assert body["as_of"] == "2026-01-01" and body["currency"] == "GBP"
    sizes = {s["segment_id"]: s["customers"] for s in body["segments"]}
    counts: dict[int, int] = {}
    for seg in api_world.assignments(0, 200).values():
        counts[seg] = counts.get(seg, 0) + 1
    assert sizes == counts


def test_segment_customers_pages_cover_every_member_once_in_order(client: TestClient):
    members = sorted(c for c, s in api_world.assignments(0, 200).items() if s == 2)
    seen, after, pages = [], None, 0
    while True:
        params = {"limit": 7, **({"after": after} if after else {})}
        body = client.get("/segments/2/customers", params=params).json()
        assert body["total"] == len(members) and body["run_id"] == "run-0"
        seen += [c["customer_id"] for c in body["customers"]]
        pages += 1
        after = body["next_after"]
        if after is None:
            break
    assert seen == members
    assert pages == len(members) // 7 + 1


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/segments/99/customers", 404, "segment_not_found"),
        ("/segments/abc/customers", 422, "invalid_request"),
        ("/segments/1/customers?limit=0", 422, "invalid_request"),
        ("/segments/1/customers?limit=5000", 422, "invalid_request"),
        ("/no/such/route", 404, "not_found"),
    ],
)
def test_errors_are_json(client: TestClient, path: str, status: int, code: str):
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == code and response.json()["message"]


def test_before_any_publish_the_service_says_so(tmp_path: Path):
    settings = Settings(home=tmp_path / "empty", pii_key="k")
    response = TestClient(create_app(settings)).get("/health")
    assert response.status_code == 503
    assert response.json()["error"] == "not_published"


def test_the_api_key_guards_every_data_route_but_not_the_docs(world: Settings):
    settings = world.model_copy(update={"api_key": SecretStr("s3cret")})
    client = TestClient(create_app(settings))
    for path in ("/health", "/segments", "/segments/1/customers", "/customers/crm-00001/segment"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"X-API-Key": "wrong"}).status_code == 401
        assert client.get(path, headers={"X-API-Key": "s3cret"}).status_code == 200
    assert client.get("/health").json()["error"] == "unauthorized"
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200


def test_production_refuses_to_serve_without_an_api_key(tmp_path: Path):
    production = Settings(home=tmp_path, pii_key="k", environment="production")
    with pytest.raises(ApiSettingsError, match="SEGMENTS_API_KEY"):
        check_settings(production)
    check_settings(
        production.model_copy(update={"api_key": SecretStr("s3cret")})
    )  # starts with one


def test_docs_load_swagger_ui_from_the_service_itself(client: TestClient):
    html = client.get("/docs").text
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert assets and not [a for a in assets if a.startswith(("http:", "https:", "//"))], assets
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200 and len(response.content) > 1000, asset
    spec = client.get("/openapi.json").json()
    assert {"/health", "/segments", "/customers/{customer_id}/segment"} <= spec["paths"].keys()


def test_a_publish_is_picked_up_and_a_request_in_flight_keeps_its_snapshot(world: Settings):
    reader = ServingReader(world.serving_path)
    client = TestClient(create_app(world, reader))
    assert client.get("/health").json()["run_id"] == "run-0"
    with reader.cursor() as in_flight:  # a slow request that started before the publish
        api_world.publish(world, 1)
        assert client.get("/health").json()["run_id"] == "run-1"
        old = in_flight.execute("select any_value(run_id) from serving.customer_segments")
        assert old.fetchone()[0] == "run-0"
    assert client.get("/health").json()["reopened"] == 2
    moved = api_world.assignments(1, 200)[_pseudonym("crm-00004")]
    assert client.get("/customers/crm-00004/segment").json()["segment_id"] == moved


def test_raw_ids_normalise_as_ingest_normalises_them(tmp_path: Path):
    """A raw id written '17850.0' in a source file is found as 17850 (the ingest rule)."""
    from segments.api.ids import candidate_ids  # the one internal under test
    from segments.core.db import connect
    from segments.core.warehouse import prepare_warehouse
    from segments.ingest import ingest_one

    settings = Settings(home=tmp_path / "home", pii_key="k")
    prepare_warehouse(settings)
    source = tmp_path / "lines.csv"
    with gzip.open(PROJECT / "tests/fixtures/online_retail_sample.csv.gz", "rt") as sample:
        source.write_text("".join(next(sample) for _ in range(6)))
    with connect(settings) as con:
        ingest_one(con, settings, "online_retail", source, "t")
        stored = con.execute(
            "select distinct customer_id from staging.stg_transactions"
        ).fetchall()
        assert len(stored) == 1
        assert stored[0][0] in candidate_ids("17850", b"k")
        assert stored[0][0] in candidate_ids(" 17850.0", b"k")


def test_the_access_log_filter_hides_customer_ids():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/customers/crm-00042/segment?x=1", "1.1", 200),
        None,
    )
    assert RedactCustomerIds().filter(record)
    assert "crm-00042" not in record.getMessage()
    assert "/customers/<id>" in record.getMessage()


PROJECT = Path(__file__).resolve().parents[2]
