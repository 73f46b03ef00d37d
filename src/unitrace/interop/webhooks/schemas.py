"""What the webhook API takes (checked in `service`, so every bad field is named at once)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="what the subscription is for")
    url: str = Field(description="the receiver: an http or https URL")
    event_types: list[str] = Field(default_factory=list, description="ledger event types")
    products: list[str] = Field(default_factory=list, description="product codes; none: all")
    alert_kinds: list[str] = Field(
        default_factory=list, description="diversion, clone, recall, claim"
    )
    secret: str | None = Field(default=None, description="the signing secret; unset: made")


class SubscriptionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    url: str | None = None
    event_types: list[str] | None = None
    products: list[str] | None = None
    alert_kinds: list[str] | None = None
    active: bool | None = None


class ReplayRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_: datetime = Field(alias="from", description="deliveries made at or after")
    to: datetime = Field(description="deliveries made before")
