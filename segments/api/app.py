"""The lookup service: a read-only FastAPI app over the serving file.

Every route but the docs requires `X-API-Key` when SEGMENTS_API_KEY is set. Errors are JSON
(`schemas.Error`). The docs page loads Swagger UI from files shipped in fastapi-offline, so
/docs works on a machine without network access.
"""

# no `from __future__ import annotations`: FastAPI reads these annotations at runtime,
# and the route closures refer to local names
import hmac
from collections.abc import Iterator
from typing import Annotated

import duckdb
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from segments.api import queries
from segments.api.ids import candidate_ids
from segments.api.reader import NotPublishedError, ServingReader
from segments.api.schemas import CustomerSegment, Error, Health, SegmentCustomers, Segments
from segments.settings import Settings

API_KEY_HEADER = "X-API-Key"
ERRORS = {status: {"model": Error} for status in (401, 404, 422, 503)}


class ApiError(HTTPException):
    """An answer with a stable error code beside the message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, message)
        self.code = code


def _error(status: int, code: str, message: str, detail: list | None = None) -> JSONResponse:
    body = Error(error=code, message=message, detail=detail).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    codes = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = getattr(exc, "code", codes.get(exc.status_code, "error"))
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in exc.errors()]
        return _error(422, "invalid_request", "the request has invalid parameters", detail)

    @app.exception_handler(NotPublishedError)
    async def unpublished(request: Request, exc: NotPublishedError) -> JSONResponse:
        return _error(503, "not_published", str(exc))


def create_app(settings: Settings, reader: ServingReader | None = None) -> FastAPI:
    """The app over settings.serving_path; `reader` may be shared (tests, the bench)."""
    from segments.core.pii import load_key

    reader = reader or ServingReader(settings.serving_path)
    key = load_key(settings)  # raw ids are hashed with the pipeline's key
    expected = settings.api_key.get_secret_value() if settings.api_key else None
    header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)

    def authorised(given: Annotated[str | None, Depends(header)]) -> None:
        if expected is not None and not hmac.compare_digest(
            (given or "").encode(), expected.encode()
        ):
            raise ApiError(401, "unauthorized", f"send the API key in the {API_KEY_HEADER} header")

    def snapshot() -> Iterator[duckdb.DuckDBPyConnection]:
        with reader.cursor() as cur:
            yield cur

    Cursor = Annotated[duckdb.DuckDBPyConnection, Depends(snapshot)]
    router = APIRouter(dependencies=[Depends(authorised)], responses=ERRORS)

    def publish_of(con: duckdb.DuckDBPyConnection) -> dict:
        publish = queries.latest_publish(con)
        if publish is None:
            raise NotPublishedError("the serving file holds no publish yet")
        return publish

    @router.get("/health", response_model=Health, tags=["service"])
    def health(con: Cursor) -> Health:
        """The publish being served: as_of, run, model version, customers."""
        return Health(status="ok", reopened=reader.reopened, **publish_of(con))

    @router.get(
        "/customers/{customer_id}/segment", response_model=CustomerSegment, tags=["lookup"]
    )
    def customer(
        con: Cursor,
        customer_id: Annotated[
            str,
            Path(
                min_length=1,
                max_length=256,
                description="The pseudonymous customer_id, or the source's raw customer id "
                "(hashed here with SEGMENTS_PII_KEY, never logged).",
            ),
        ],
    ) -> CustomerSegment:
        """A customer's current segment, its suggested action, and since when."""
        row = queries.customer_segment(con, candidate_ids(customer_id, key))
        if row is None:
            raise ApiError(
                404,
                "customer_not_found",
                "no customer with this id in the latest publish (raw ids are matched "
                "after pseudonymisation with the pipeline's key)",
            )
        return CustomerSegment(currency=settings.currency, **row)

    @router.get("/segments", response_model=Segments, tags=["segments"])
    def segments(con: Cursor) -> Segments:
        """Every segment of the published model: name, action, sizes, means."""
        return Segments(
            as_of=publish_of(con)["as_of"],
            currency=settings.currency,
            segments=queries.segment_profiles(con),
        )

    @router.get(
        "/segments/{segment_id}/customers", response_model=SegmentCustomers, tags=["segments"]
    )
    def members(
        con: Cursor,
        segment_id: int,
        limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
        after: Annotated[
            str | None, Query(max_length=64, description="next_after of the previous page.")
        ] = None,
    ) -> SegmentCustomers:
        """A segment's customers, one page at a time, in customer_id order."""
        if not queries.segment_exists(con, segment_id):
            raise ApiError(404, "segment_not_found", f"no segment {segment_id}; see /segments")
        publish = publish_of(con)
        total, rows = queries.segment_members(con, segment_id, after=after, limit=limit)
        return SegmentCustomers(
            segment_id=segment_id,
            as_of=publish["as_of"],
            run_id=publish["run_id"],
            total=total,
            limit=limit,
            customers=rows,
            next_after=rows[-1]["customer_id"] if len(rows) == limit else None,
        )

    app = FastAPIOffline(
        title="segments lookup",
        version="1",
        summary="Read-only segment lookups over the latest publish (serving.duckdb).",
    )
    app.state.reader = reader
    _install_error_handlers(app)
    app.include_router(router)
    return app
