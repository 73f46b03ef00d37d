"""The shape of a label template: its size, its elements, the sheet it prints on.

One model for the API, the CLI, the page and the renderer. Every problem is named by its place
(`elements.2.size_mm`) so the page can point at the element and the field.
"""

from __future__ import annotations

import base64
import binascii
import io
import string
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# what a text line or a QR code may name in braces; the values come from render.LabelData
PLACEHOLDERS = (
    "serial",
    "gtin",
    "lot",
    "expiry",
    "production_date",
    "product_code",
    "product_name",
    "digital_link",
    "element_string",
    "hri",  # the element string in its bracketed human-readable form, (01)…(21)…
    "sscc",
    # the unit's verification code (issue 16): as printed (grouped), UNITRACE_PUBLIC_URL/v/{code},
    # the unit's Digital Link URI carrying it (?vc=CODE; without a GTIN: the verify URL)
    "verify.code",
    "verify.url",
    "verify.digital_link",
)
VERIFY_PLACEHOLDERS = ("verify.code", "verify.url", "verify.digital_link")
# the AIs a GS1 DataMatrix or GS1-128 may carry (01 and 21 always)
UNIT_AIS = ("01", "17", "10", "21")
MAX_ELEMENTS = 40
MAX_LOGO_BYTES = 256 * 1024


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


def placeholders_in(text: str) -> list[str]:
    """The names a text asks for; ValueError on a brace that does not close."""
    return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]


def _known_placeholders(text: str) -> str:
    try:
        names = placeholders_in(text)
    except ValueError as exc:
        raise ValueError(f"bad braces: {exc}") from None
    for name in names:
        if name not in PLACEHOLDERS and not name.startswith("extra."):
            shown = "{" + name + "}"
            raise ValueError(f"unknown placeholder {shown}: see the list of placeholders")
    return text


class Placed(Strict):
    x_mm: float = Field(ge=0, le=1000, description="left edge, from the label's left")
    y_mm: float = Field(ge=0, le=1000, description="top edge, from the label's top")


class TextElement(Placed):
    type: Literal["text"]
    text: str = Field(min_length=1, max_length=300, description="with placeholders: {serial}")
    size_pt: float = Field(default=8, ge=3, le=72)
    bold: bool = False

    _check = field_validator("text")(_known_placeholders)


class QrElement(Placed):
    type: Literal["qr"]
    size_mm: float = Field(default=20, ge=5, le=200)
    data: str = Field(
        default="{digital_link}",
        min_length=1,
        max_length=300,
        description="what the code holds: {digital_link}, {verify.digital_link}, {verify.url}",
    )
    error: Literal["L", "M", "Q", "H"] = "M"

    _check = field_validator("data")(_known_placeholders)


def _unit_ais(ais: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [ai for ai in ais if ai not in UNIT_AIS]
    if unknown:
        ai, allowed = unknown[0], ", ".join(UNIT_AIS)
        raise ValueError(f"AI {ai} is not one of {allowed}")
    if "01" not in ais or "21" not in ais:
        raise ValueError("AIs 01 (GTIN) and 21 (serial) are required")
    if len(set(ais)) != len(ais):
        raise ValueError("an AI is named twice")
    return tuple(ai for ai in UNIT_AIS if ai in ais)  # GS1 order: 01, 17, 10, 21


class DataMatrixElement(Placed):
    type: Literal["datamatrix"]
    size_mm: float = Field(default=15, ge=4, le=200)
    ais: tuple[str, ...] = ("01", "21")

    _check = field_validator("ais")(_unit_ais)


class Code128Element(Placed):
    type: Literal["code128"]
    width_mm: float = Field(default=50, ge=10, le=400)
    height_mm: float = Field(default=12, ge=3, le=200)
    gs1: bool = Field(default=True, description="GS1-128 of the AIs; false: Code 128 of data")
    ais: tuple[str, ...] = ("01", "21")
    data: str = Field(default="{serial}", min_length=1, max_length=80)

    _check_ais = field_validator("ais")(_unit_ais)
    _check_data = field_validator("data")(_known_placeholders)


class ImageElement(Placed):
    type: Literal["image"]
    width_mm: float = Field(ge=1, le=400)
    height_mm: float = Field(ge=1, le=400)
    png: str = Field(description="the logo: PNG or JPEG, base64", max_length=MAX_LOGO_BYTES * 2)

    @field_validator("png")
    @classmethod
    def _an_image(cls, value: str) -> str:
        from PIL import Image, UnidentifiedImageError

        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not base64") from None
        if len(raw) > MAX_LOGO_BYTES:
            limit = MAX_LOGO_BYTES // 1024
            raise ValueError(f"over {limit} KiB")
        try:
            with Image.open(io.BytesIO(raw)) as image:
                if image.format not in ("PNG", "JPEG"):
                    raise ValueError("not a PNG or JPEG image")
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError):
            raise ValueError("not a PNG or JPEG image") from None
        return value


Element = Annotated[
    TextElement | QrElement | DataMatrixElement | Code128Element | ImageElement,
    Field(discriminator="type"),
]


class Sheet(Strict):
    """A page of labels in a grid (an A4 sheet for an office printer by default)."""

    page_width_mm: float = Field(default=210, ge=20, le=1000)
    page_height_mm: float = Field(default=297, ge=20, le=1000)
    rows: int = Field(default=8, ge=1, le=100)
    columns: int = Field(default=3, ge=1, le=100)
    margin_top_mm: float = Field(default=10, ge=0, le=500)
    margin_left_mm: float = Field(default=5, ge=0, le=500)
    gap_x_mm: float = Field(default=2, ge=0, le=500)
    gap_y_mm: float = Field(default=0, ge=0, le=500)


class Template(Strict):
    """A label's layout; positions in mm from the label's top-left corner."""

    name: str = Field(min_length=1, max_length=100)
    width_mm: float = Field(default=70, ge=10, le=400)
    height_mm: float = Field(default=37, ge=5, le=400)
    elements: tuple[Element, ...] = Field(default=(), max_length=MAX_ELEMENTS)
    sheet: Sheet | None = Field(
        default=None, description="the grid for PDF; none: label-size pages"
    )

    @model_validator(mode="after")
    def _fits(self) -> Template:
        past = [
            f"{index} ({element.type})"
            for index, element in enumerate(self.elements)
            if (edge := element_extent(element))[0] > self.width_mm + 0.01
            or edge[1] > self.height_mm + 0.01
        ]
        if past:
            elements = ", ".join(past)
            raise ValueError(f"elements {elements} go past the label's edge")
        if self.sheet is not None:
            sheet = self.sheet
            width = sheet.margin_left_mm + sheet.columns * self.width_mm
            width += (sheet.columns - 1) * sheet.gap_x_mm
            height = sheet.margin_top_mm + sheet.rows * self.height_mm
            height += (sheet.rows - 1) * sheet.gap_y_mm
            if width > sheet.page_width_mm + 0.01 or height > sheet.page_height_mm + 0.01:
                raise ValueError("the sheet's grid of labels does not fit on its page")
        return self


def element_extent(
    element: TextElement | QrElement | DataMatrixElement | Code128Element | ImageElement,
) -> tuple[float, float]:
    """The right and bottom edges of an element, in mm (a text line's by its size only)."""
    if isinstance(element, QrElement | DataMatrixElement):
        return element.x_mm + element.size_mm, element.y_mm + element.size_mm
    if isinstance(element, Code128Element | ImageElement):
        return element.x_mm + element.width_mm, element.y_mm + element.height_mm
    return element.x_mm, element.y_mm + element.size_pt * 25.4 / 72


class TemplateIn(Strict):
    """A template as stored: for one product (by code) or the default (product null)."""

    product: str | None = Field(
        default=None, max_length=40, description="product code; null: default"
    )
    template: Template


class PreviewIn(Strict):
    """What to preview: the stored template, or `template` (unsaved edits), for a sample unit
    of `product` (default: the template's product)."""

    template: Template | None = None
    product: str | None = Field(default=None, max_length=40)
    format: Literal["png", "svg"] = "png"
    dpi: int = Field(default=300, ge=72, le=600)


DEFAULT_TEMPLATE = Template(
    name="default",
    width_mm=64,
    height_mm=33,
    elements=(
        QrElement(type="qr", x_mm=2, y_mm=2, size_mm=22),
        DataMatrixElement(
            type="datamatrix", x_mm=47, y_mm=16, size_mm=15, ais=("01", "17", "10", "21")
        ),
        TextElement(type="text", x_mm=26, y_mm=3, text="{product_name}", size_pt=8, bold=True),
        TextElement(type="text", x_mm=26, y_mm=8, text="SN {serial}", size_pt=7),
        TextElement(type="text", x_mm=26, y_mm=12, text="LOT {lot}", size_pt=7),
        TextElement(type="text", x_mm=26, y_mm=16, text="EXP {expiry}", size_pt=7),
        TextElement(type="text", x_mm=2, y_mm=26, text="{hri}", size_pt=5),
    ),
    # an A4 sheet of 3 × 8 labels
    sheet=Sheet(rows=8, columns=3, margin_top_mm=16, margin_left_mm=6, gap_x_mm=2, gap_y_mm=0),
)


def used_placeholders(template: Template) -> list[str]:
    """The placeholders a template's elements fill, each once, in the order they appear."""
    texts: list[str] = []
    for element in template.elements:
        if isinstance(element, TextElement):
            texts.append(element.text)
        elif isinstance(element, QrElement) or (
            isinstance(element, Code128Element) and not element.gs1
        ):
            texts.append(element.data)
    return list(dict.fromkeys(name for text in texts for name in placeholders_in(text)))


def verify_placeholders(template: Template) -> list[str]:
    """The verification placeholders (`{verify.…}`) a template uses."""
    return [name for name in used_placeholders(template) if name in VERIFY_PLACEHOLDERS]
