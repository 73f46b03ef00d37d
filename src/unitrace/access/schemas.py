"""Shapes of the access API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(Strict):
    username: str = Field(min_length=2, max_length=80)
    password: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=20)
    party: str | None = Field(default=None, max_length=40)


class UserUpdate(Strict):
    role: str | None = Field(default=None, min_length=1, max_length=20)
    party: str | None = Field(default=None, max_length=40)
    active: bool | None = None
    password: str | None = Field(default=None, min_length=1, max_length=200)
    revoke_tokens: bool = Field(
        default=False,
        description="revoke all of the user's API tokens (always done when an administrator "
        "sets another user's password)",
    )


class TokenCreate(Strict):
    name: str = Field(min_length=1, max_length=80)
    user: str | None = Field(default=None, max_length=80, description="default: yourself")
    days: int | None = Field(default=None, ge=1, le=3650)
    trusted: bool = Field(default=False, description="no API rate limit (administrators only)")
