"""A stand-in for the render API of labels/render.py (helper i15-labels) until it lands:
the same names and signatures, one page or one ^XA…^XZ block per label, no symbols."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, BinaryIO, TextIO


@dataclass(frozen=True)
class LabelData:
    serial: str
    gtin: str
    lot: str | None = None
    expiry: date | None = None
    production_date: date | None = None
    product_code: str = ""
    product_name: str = ""
    digital_link: str = ""
    element_string: str = ""
    sscc: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def render_zpl(
    template: Any,
    labels: Iterable[LabelData],
    out: TextIO,
    dpi: int = 203,
    progress: Callable[[int], None] | None = None,
) -> int:
    count = 0
    for label in labels:
        content = label.digital_link or label.element_string or label.serial
        out.write(f"^XA^FO20,20^BQN,2,4^FDQA,{content}^FS^FO20,200^FD{label.serial}^FS^XZ\n")
        count += 1
    return count


def render_pdf(
    template: Any,
    labels: Iterable[LabelData],
    out: BinaryIO,
    sheet: Any = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format=(50, 30))
    pdf.set_font("helvetica", size=8)
    pdf.set_auto_page_break(False)
    count = 0
    for label in labels:
        pdf.add_page()
        pdf.cell(text=label.serial)
        count += 1
    out.write(bytes(pdf.output()))
    return count


def unit_identifiers(
    gtin: str | None, serial: str, lot: str | None, expiry: date | None
) -> tuple[str, str]:
    """(element string, Digital Link URI) of a unit with a GTIN; ("", "") without one."""
    import os
    from urllib.parse import quote

    if not gtin:
        return "", ""
    gtin14 = gtin.zfill(14)
    parts = [f"01{gtin14}"]
    if expiry is not None:
        parts.append(f"17{expiry:%y%m%d}")
    if lot:
        parts.append(f"10{lot}\x1d")
    parts.append(f"21{serial}")
    stem = os.environ.get("UNITRACE_PUBLIC_URL", "https://id.example.com").rstrip("/")
    link = f"{stem}/01/{gtin14}/21/{quote(serial, safe='')}"
    return "".join(parts), link
