"""What the service answers, as pydantic models: they are the OpenAPI contract at /docs."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class Error(BaseModel):
    """Every 4xx/5xx answer: a stable code, a sentence saying what to do, details if any."""

    error: str = Field(examples=["customer_not_found"])
    message: str
    detail: list[dict] | None = None


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    as_of: date = Field(description="The as_of of the publish being served.")
    run_id: str
    model_version: str
    customers: int
    published_at: datetime | None = None
    reopened: int = Field(description="Publishes picked up since the service started.")


class CustomerSegment(BaseModel):
    customer_id: str = Field(description="The pseudonymous key (never the raw id).")
    segment_id: int
    segment_name: str
    description: str | None = None
    action: str | None = Field(default=None, description="Suggested action for the segment.")
    rfm_segment: str | None = None
    recency_days: int | None = None
    frequency: int | None = None
    monetary: float | None = None
    clv: float | None = None
    currency: str = Field(description="Currency of monetary and clv (SEGMENTS_CURRENCY).")
    segment_since: date | None = Field(default=None, description="Start of the current stay.")
    model_version: str
    run_id: str
    as_of: date


class SegmentProfile(BaseModel):
    segment_id: int
    segment_name: str
    description: str | None = None
    action: str | None = None
    customers: int
    customer_share: float | None = None
    revenue: float | None = None
    revenue_share: float | None = None
    mean_recency_days: float | None = None
    mean_frequency: float | None = None
    mean_monetary: float | None = None
    mean_clv: float | None = None
    top_rfm_segment: str | None = None
    model_version: str | None = None
    run_id: str
    as_of: date


class Segments(BaseModel):
    as_of: date
    currency: str
    segments: list[SegmentProfile]


class Member(BaseModel):
    customer_id: str
    rfm_segment: str | None = None
    recency_days: int | None = None
    frequency: int | None = None
    monetary: float | None = None
    clv: float | None = None


class SegmentCustomers(BaseModel):
    segment_id: int
    as_of: date
    run_id: str = Field(description="Pages of one listing must all show the same run_id.")
    total: int = Field(description="Customers in the segment.")
    limit: int
    customers: list[Member] = Field(description="In customer_id order.")
    next_after: str | None = Field(
        default=None, description="Pass as `after` for the next page; null on the last page."
    )
