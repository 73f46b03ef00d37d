"""GS1 API: read a scanned GS1 code, write a Digital Link. Read-only: any logged-in token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from unitrace.api.deps import CurrentActor
from unitrace.config import public_url
from unitrace.core import gs1
from unitrace.core.errors import invalid

router = APIRouter(tags=["gs1"])

MAX_TEXT = 4096  # far above any GS1 symbol's capacity


class ParseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(
        min_length=1,
        max_length=MAX_TEXT,
        description="a GS1 element string (GS as \\u001d, or a symbology identifier such as "
        "]d2), a bracketed string (01)…(21)…, or a GS1 Digital Link URI",
    )


class ElementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ai: str = Field(min_length=2, max_length=4, pattern=r"^\d{2,4}$")
    value: str = Field(min_length=1, max_length=90)


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    elements: list[ElementIn] | None = Field(default=None, min_length=1, max_length=64)
    stem: str | None = Field(
        default=None,
        max_length=500,
        description="resolver address; default UNITRACE_PUBLIC_URL, else https://id.gs1.org",
    )

    @model_validator(mode="after")
    def one_source(self) -> LinkIn:
        if (self.text is None) == (self.elements is None):
            raise ValueError("give either text or elements")
        return self


@router.post("/gs1/parse")
def parse_gs1(body: ParseIn, actor: CurrentActor) -> dict[str, Any]:
    """The AIs of a GS1 code, strictly; 422 naming `text` and what is wrong."""
    return gs1.parse(body.text, "text").as_dict()


@router.post("/gs1/dl")
def digital_link(body: LinkIn, actor: CurrentActor) -> dict[str, Any]:
    """The Digital Link URI, element string (GS as \\u001d) and bracketed string of the AIs."""
    if body.text is not None:
        elements = gs1.parse(body.text, "text").elements
    else:
        elements = tuple(gs1.Element(e.ai, e.value) for e in body.elements or [])
    stem = body.stem or public_url() or gs1.DEFAULT_STEM
    if not stem.lower().startswith(("http://", "https://")):
        raise invalid("stem", "a stem is an http(s) URL", stem)
    return {
        "digital_link": gs1.digital_link(elements, stem),
        "element_string": gs1.element_string(elements),
        "bracketed": gs1.bracketed(elements),
    }
