"""Render labels: PDF sheets (streamed page by page), ZPL II, and PNG/SVG previews.

A template is laid out for one label into drawing primitives in mm (`layout`); the PDF, PNG and
SVG renderers draw those, so a preview shows what the sheet prints. ZPL is written from the
template's elements with the printer's own barcode commands (^BQ QR, ^BX DataMatrix with FNC1,
^BC GS1-128 in UCC/EAN mode), so the printer draws the symbols at its own resolution.
"""

from __future__ import annotations

import base64
import io
import string
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, BinaryIO, TextIO

from unitrace.core import gs1
from unitrace.labels import symbols
from unitrace.labels.pdf import PT_PER_MM, PdfStream, pdf_string
from unitrace.labels.schemas import (
    Code128Element,
    DataMatrixElement,
    ImageElement,
    QrElement,
    Sheet,
    Template,
    TextElement,
)

Progress = Callable[[int], None] | None


@dataclass(frozen=True)
class LabelData:
    """What one label shows: one unit (or a carton, by its SSCC)."""

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
    # the unit's verification code (issue 16), printed grouped, and the two links carrying it
    verify_code: str = ""
    verify_url: str = ""
    verify_digital_link: str = ""

    def elements(self, ais: Iterable[str] = ("01", "17", "10", "21")) -> tuple[gs1.Element, ...]:
        """The unit's AIs among `ais` that this label has, in GS1's order (01, 17, 10, 21);
        a value GS1 does not allow raises core.errors.ValidationError naming it."""
        wanted = set(ais)
        return tuple(
            element
            for element in gs1.unit_elements(self.gtin, self.serial, self.lot, self.expiry)
            if element.ai in wanted
        )

    def fields(self) -> dict[str, str]:
        out = {
            "serial": self.serial,
            "gtin": self.gtin,
            "lot": self.lot or "",
            "expiry": self.expiry.isoformat() if self.expiry else "",
            "production_date": self.production_date.isoformat() if self.production_date else "",
            "product_code": self.product_code,
            "product_name": self.product_name,
            "digital_link": self.digital_link,
            "element_string": self.element_string,
            "hri": gs1.bracketed(self.elements()) if self.gtin else "",  # no GTIN: no GS1 AIs
            "sscc": self.sscc or "",
            "verify.code": self.verify_code,
            "verify.url": self.verify_url,
            "verify.digital_link": self.verify_digital_link,
        }
        out.update({f"extra.{key}": str(value) for key, value in self.extra.items()})
        return out


@lru_cache(maxsize=256)
def _parts(text: str) -> tuple[tuple[str, str | None, str | None, str | None], ...]:
    return tuple(string.Formatter().parse(text))


def fill(text: str, values: dict[str, str]) -> str:
    """A text with its placeholders filled; one the label lacks gives an empty string. A name
    is looked up whole (`{verify.url}`, `{extra.kind}`), not as an attribute."""
    out = []
    for literal, name, spec, conversion in _parts(text):
        out.append(literal)
        if name is not None:
            value = values.get(name, "")
            if conversion:
                value = {"r": repr, "a": ascii}.get(conversion, str)(value)
            out.append(format(value, spec) if spec else value)
    return "".join(out)


# --- layout: what to draw, in mm from the label's top-left corner ---


@dataclass(frozen=True)
class Modules:
    x: float
    y: float
    module_width: float
    module_height: float  # a linear barcode's one row is its bar height
    matrix: symbols.Matrix


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    size_pt: float
    text: str
    bold: bool


@dataclass(frozen=True)
class Picture:
    x: float
    y: float
    width: float
    height: float
    name: str  # the template's image, decoded once (`_image`)


Primitive = Modules | Text | Picture


def _zint_ais(label: LabelData, ais: Iterable[str]) -> str:
    """zint's GS1 input: `[01]09506000134352[21]ABC123` (zint places FNC1 from it)."""
    return "".join(f"[{element.ai}]{element.value}" for element in label.elements(ais))


def layout(template: Template, label: LabelData) -> Iterator[Primitive]:
    values = label.fields()
    for index, element in enumerate(template.elements):
        if isinstance(element, TextElement):
            text = fill(element.text, values)
            if text.strip():
                yield Text(element.x_mm, element.y_mm, element.size_pt, text, element.bold)
        elif isinstance(element, QrElement):
            matrix = symbols.qr(fill(element.data, values), element.error)
            module = element.size_mm / matrix.width
            yield Modules(element.x_mm, element.y_mm, module, module, matrix)
        elif isinstance(element, DataMatrixElement):
            matrix = symbols.gs1_datamatrix(_zint_ais(label, element.ais))
            module = element.size_mm / max(matrix.width, matrix.height)
            yield Modules(element.x_mm, element.y_mm, module, module, matrix)
        elif isinstance(element, Code128Element):
            if element.gs1:
                matrix = symbols.gs1_128(_zint_ais(label, element.ais))
            else:
                matrix = symbols.code128(fill(element.data, values))
            module = element.width_mm / matrix.width
            yield Modules(element.x_mm, element.y_mm, module, element.height_mm, matrix)
        elif isinstance(element, ImageElement):
            yield Picture(
                element.x_mm, element.y_mm, element.width_mm, element.height_mm, f"I{index}"
            )


@lru_cache(maxsize=16)
def _image(png_base64: str) -> Any:
    """A logo decoded once, flattened onto white (labels print no transparency)."""
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(png_base64))) as source:
        rgba = source.convert("RGBA")
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat


def _images(template: Template) -> dict[str, Any]:
    return {
        f"I{index}": _image(element.png)
        for index, element in enumerate(template.elements)
        if isinstance(element, ImageElement)
    }


# --- PDF ---


def _pdf_label(
    template: Template, label: LabelData, left: float, top: float, page_height: float
) -> bytes:
    """The content-stream operators of one label whose top-left corner is at (left, top) mm."""
    ops: list[bytes] = []

    def px(x_mm: float) -> float:
        return (left + x_mm) * PT_PER_MM

    def py(y_mm: float) -> float:  # PDF's y grows upwards from the page's bottom
        return (page_height - top - y_mm) * PT_PER_MM

    for item in layout(template, label):
        if isinstance(item, Modules):
            w, h = item.module_width * PT_PER_MM, item.module_height * PT_PER_MM
            rects = []
            for row_number, row in enumerate(item.matrix.rows):
                y = py(item.y) - (row_number + 1) * h
                for start, length in symbols.runs(row):
                    rects.append(
                        b"%.3f %.3f %.3f %.3f re" % (px(item.x) + start * w, y, length * w, h)
                    )
            ops.append(b"0 g\n" + b"\n".join(rects) + b"\nf")
        elif isinstance(item, Text):
            font, operand = pdf_string(item.text)
            if item.bold and font == "F1":
                font = "F2"
            baseline = py(item.y) - item.size_pt * 0.8
            ops.append(
                b"BT /%s %.2f Tf %.3f %.3f Td %s Tj ET"
                % (font.encode(), item.size_pt, px(item.x), baseline, operand)
            )
        else:
            w, h = item.width * PT_PER_MM, item.height * PT_PER_MM
            ops.append(
                b"q %.3f 0 0 %.3f %.3f %.3f cm /%s Do Q"
                % (w, h, px(item.x), py(item.y) - h, item.name.encode())
            )
    return b"\n".join(ops)


def _cells(
    template: Template, sheet: Sheet | None
) -> tuple[float, float, list[tuple[float, float]]]:
    """The page size and the top-left corner of each label on a page."""
    if sheet is None:
        return template.width_mm, template.height_mm, [(0.0, 0.0)]
    cells = [
        (
            sheet.margin_left_mm + column * (template.width_mm + sheet.gap_x_mm),
            sheet.margin_top_mm + row * (template.height_mm + sheet.gap_y_mm),
        )
        for row in range(sheet.rows)
        for column in range(sheet.columns)
    ]
    return sheet.page_width_mm, sheet.page_height_mm, cells


def render_pdf(
    template: Template,
    labels: Iterable[LabelData],
    out: BinaryIO,
    sheet: Sheet | None = None,
    progress: Progress = None,
) -> int:
    """Write the labels to `out` as a PDF, page by page (a sheet grid, else the template's
    own sheet, else one label a page); returns how many. Holds one page in memory at a time."""
    sheet = sheet or template.sheet
    width, height, cells = _cells(template, sheet)
    pdf = PdfStream(out)
    for name, image in _images(template).items():
        pdf.image(name, image.width, image.height, image.tobytes())
    count = 0
    page: list[bytes] = []
    for label in labels:
        left, top = cells[len(page)]
        page.append(_pdf_label(template, label, left, top, height))
        count += 1
        if len(page) == len(cells):
            pdf.page(width, height, b"\n".join(page))
            page = []
            if progress:
                progress(count)
    if page or count == 0:
        pdf.page(width, height, b"\n".join(page))
        if progress:
            progress(count)
    pdf.close()
    return count


# --- PNG and SVG previews ---


def preview_png(template: Template, label: LabelData, dpi: int = 300) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    scale = dpi / 25.4
    size = (max(1, round(template.width_mm * scale)), max(1, round(template.height_mm * scale)))
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    pictures = _images(template)
    for item in layout(template, label):
        if isinstance(item, Modules):
            for row_number, row in enumerate(item.matrix.rows):
                top = round((item.y + row_number * item.module_height) * scale)
                bottom = round((item.y + (row_number + 1) * item.module_height) * scale) - 1
                for start, length in symbols.runs(row):
                    left = round((item.x + start * item.module_width) * scale)
                    right = round((item.x + (start + length) * item.module_width) * scale) - 1
                    draw.rectangle((left, top, right, bottom), fill="black")
        elif isinstance(item, Text):
            font = ImageFont.load_default(size=max(4, round(item.size_pt / 72 * dpi)))
            draw.text(
                (round(item.x * scale), round(item.y * scale)), item.text, fill="black", font=font
            )
        else:
            box = (round(item.width * scale), round(item.height * scale))
            image.paste(
                pictures[item.name].resize(box), (round(item.x * scale), round(item.y * scale))
            )
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()


def _xml(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def preview_svg(template: Template, label: LabelData) -> str:
    w, h = template.width_mm, template.height_mm
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}mm" height="{h}mm" '
        f'viewBox="0 0 {w} {h}"><rect width="{w}" height="{h}" fill="#fff"/>'
    ]
    for item in layout(template, label):
        if isinstance(item, Modules):
            path = []
            for row_number, row in enumerate(item.matrix.rows):
                y = item.y + row_number * item.module_height
                for start, length in symbols.runs(row):
                    x = item.x + start * item.module_width
                    path.append(
                        f"M{x:.3f} {y:.3f}h{length * item.module_width:.3f}"
                        f"v{item.module_height:.3f}h{-length * item.module_width:.3f}z"
                    )
            parts.append(f'<path fill="#000" shape-rendering="crispEdges" d="{"".join(path)}"/>')
        elif isinstance(item, Text):
            size = item.size_pt * 25.4 / 72
            weight = ' font-weight="bold"' if item.bold else ""
            parts.append(
                f'<text x="{item.x:.3f}" y="{item.y + size * 0.8:.3f}" '
                f'font-family="Helvetica, Arial, sans-serif" font-size="{size:.3f}"'
                f"{weight}>{_xml(item.text)}</text>"
            )
        else:
            element = template.elements[int(item.name[1:])]
            assert isinstance(element, ImageElement)
            parts.append(
                f'<image x="{item.x}" y="{item.y}" width="{item.width}" '
                f'height="{item.height}" preserveAspectRatio="none" '
                f'href="data:image/png;base64,{element.png}"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


# --- ZPL II ---


def zpl_text(text: str) -> str:
    """Field data for ^FH: the characters ZPL reads as commands or escapes, in hex."""
    return text.replace("_", "_5F").replace("^", "_5E").replace("~", "_7E")


def zpl_datamatrix_data(elements: Iterable[gs1.Element]) -> str:
    """^BX quality 200 field data (escape character _): `_1` (FNC1) first, then the element
    string with `_1` where GS1 puts FNC1, a `_` in a value doubled. GS1's character sets hold
    no `^` or `~`, so the values cannot end the field or start a command."""
    escaped = [gs1.Element(e.ai, e.value.replace("_", "__")) for e in elements]
    return "_1" + gs1.element_string(escaped, fnc1="_1")


def _zpl_label(template: Template, label: LabelData, dpi: int) -> str:
    def dots(mm: float) -> int:
        return round(mm * dpi / 25.4)

    values = label.fields()
    lines = [
        "^XA",
        "^CI28",
        f"^PW{dots(template.width_mm)}",
        f"^LL{dots(template.height_mm)}",
        "^LH0,0",
    ]
    for element in template.elements:
        at = f"^FO{dots(element.x_mm)},{dots(element.y_mm)}"
        if isinstance(element, TextElement):
            text = fill(element.text, values)
            if text.strip():
                height = round(element.size_pt / 72 * dpi)
                lines.append(f"{at}^A0N,{height},{height}^FH^FD{zpl_text(text)}^FS")
        elif isinstance(element, QrElement):
            data = fill(element.data, values)
            modules = symbols.qr_width(data, element.error)
            magnification = max(1, min(10, dots(element.size_mm) // modules))
            lines.append(f"{at}^BQN,2,{magnification}^FH^FD{element.error}A,{zpl_text(data)}^FS")
        elif isinstance(element, DataMatrixElement):
            elements = label.elements(element.ais)
            modules = symbols.gs1_datamatrix(_zint_ais(label, element.ais)).width
            module = max(1, dots(element.size_mm) // modules)
            lines.append(f"{at}^BXN,{module},200,,,,_^FD{zpl_datamatrix_data(elements)}^FS")
        elif isinstance(element, Code128Element):
            height = dots(element.height_mm)
            if element.gs1:
                hri = gs1.bracketed(label.elements(element.ais))
                # UCC/EAN mode: the printer puts FNC1 first and after variable-length AIs
                lines.append(f"{at}^BY2^BCN,{height},N,N,N,D^FH^FD{zpl_text(hri)}^FS")
            else:
                data = fill(element.data, values).replace(">", "><")
                lines.append(f"{at}^BY2^BCN,{height},N,N,N,N^FH^FD{zpl_text(data)}^FS")
        elif isinstance(element, ImageElement):
            lines.append(f"{at}{_zpl_graphic(element, dots)}^FS")
    lines.append("^XZ")
    return "\n".join(lines) + "\n"


def _zpl_graphic(element: ImageElement, dots: Callable[[float], int]) -> str:
    """A logo as a ^GFA graphic field (1 bit a dot, dithered)."""
    image = _image(element.png).resize(
        (max(1, dots(element.width_mm)), max(1, dots(element.height_mm)))
    )
    bitmap = image.convert("1")
    width_bytes = (bitmap.width + 7) // 8
    # PIL's mode 1 packs 1 = white; ZPL's graphic fields print 1 = black
    raw = bytearray(255 - byte for byte in bitmap.tobytes())
    if bitmap.width % 8:  # the padding past a row's last dot stays white
        mask = (0xFF << (8 - bitmap.width % 8)) & 0xFF
        for end in range(width_bytes - 1, len(raw), width_bytes):
            raw[end] &= mask
    return f"^GFA,{len(raw)},{len(raw)},{width_bytes},{raw.hex().upper()}"


def render_zpl(
    template: Template,
    labels: Iterable[LabelData],
    out: TextIO,
    dpi: int = 203,
    progress: Progress = None,
) -> int:
    """Write one ^XA…^XZ format a label to `out`; returns how many."""
    if dpi not in (203, 300, 600):
        raise ValueError("dpi is 203, 300 or 600")
    count = 0
    for label in labels:
        out.write(_zpl_label(template, label, dpi))
        count += 1
        if progress and count % 100 == 0:
            progress(count)
    if progress:
        progress(count)
    return count
