"""Labels rendered and read back by a real decoder (zxing-cpp): previews, PDF pages, ZPL."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
import zxingcpp
from PIL import Image

from unitrace.core import gs1
from unitrace.labels import symbols
from unitrace.labels.render import (
    LabelData,
    preview_png,
    preview_svg,
    render_pdf,
    render_zpl,
    zpl_datamatrix_data,
)
from unitrace.labels.schemas import (
    DEFAULT_TEMPLATE,
    Code128Element,
    DataMatrixElement,
    QrElement,
    Template,
    TextElement,
)

GTIN = "09506000134352"


def label(serial: str = "ABC123", lot: str | None = "L1", expiry: date | None = None) -> LabelData:
    expiry = expiry or date(2027, 12, 31)
    elements = gs1.unit_elements(GTIN, serial, lot, expiry)
    return LabelData(
        serial=serial,
        gtin=GTIN,
        lot=lot,
        expiry=expiry,
        product_code="W-1",
        product_name="Widget",
        digital_link=gs1.digital_link(elements, "https://id.example.com"),
        element_string=gs1.element_string(elements),
    )


KINDS = {"]Q": "QRCode", "]d": "DataMatrix", "]C": "Code128"}


def decode(image: Image.Image) -> dict[str, zxingcpp.Barcode]:
    """The symbols found, by kind (told by their symbology identifier: ]Q, ]d, ]C)."""
    found = zxingcpp.read_barcodes(image, text_mode=zxingcpp.TextMode.Plain)
    return {KINDS[code.symbology_identifier[:2]]: code for code in found}


def test_preview_png_qr_holds_the_digital_link_and_datamatrix_the_element_string() -> None:
    unit = label()
    codes = decode(Image.open(io.BytesIO(preview_png(DEFAULT_TEMPLATE, unit))))
    assert codes["QRCode"].text == unit.digital_link
    matrix = codes["DataMatrix"]
    assert matrix.text == unit.element_string
    # FNC1 in first position: the symbology identifier of a GS1 DataMatrix
    assert matrix.symbology_identifier == "]d2"
    assert matrix.content_type == zxingcpp.ContentType.GS1


def test_datamatrix_with_only_gtin_and_serial_leaves_lot_and_expiry_out() -> None:
    template = Template(
        name="t",
        width_mm=30,
        height_mm=30,
        elements=(DataMatrixElement(type="datamatrix", x_mm=5, y_mm=5, size_mm=20),),
    )
    codes = decode(Image.open(io.BytesIO(preview_png(template, label()))))
    assert codes["DataMatrix"].text == f"01{GTIN}21ABC123"


def test_gs1_128_and_code128_decode_to_their_data() -> None:
    template = Template(
        name="t",
        width_mm=100,
        height_mm=40,
        elements=(
            Code128Element(type="code128", x_mm=8, y_mm=2, width_mm=84, height_mm=15),
            Code128Element(
                type="code128",
                x_mm=8,
                y_mm=22,
                width_mm=50,
                height_mm=15,
                gs1=False,
                data="{serial}",
            ),
        ),
    )
    image = Image.open(io.BytesIO(preview_png(template, label(serial="SN-77"))))
    top = decode(image.crop((0, 0, image.width, image.height // 2)))["Code128"]
    bottom = decode(image.crop((0, image.height // 2, image.width, image.height)))["Code128"]
    assert top.text == f"01{GTIN}21SN-77"
    assert top.symbology_identifier == "]C1"  # GS1-128: FNC1 first
    assert bottom.text == "SN-77"
    assert bottom.symbology_identifier == "]C0"


def test_svg_preview_fills_the_placeholders_and_escapes_markup() -> None:
    template = Template(
        name="t",
        elements=(TextElement(type="text", x_mm=2, y_mm=2, text="{product_name} / {serial}"),),
    )
    unit = LabelData(serial="A<1>", gtin=GTIN, product_name="R&D")
    svg = preview_svg(template, unit)
    assert "R&amp;D / A&lt;1&gt;" in svg
    assert svg.startswith("<svg") and svg.endswith("</svg>")


def test_pdf_streams_one_page_per_grid_and_counts_labels() -> None:
    out = io.BytesIO()
    seen: list[int] = []
    count = render_pdf(
        DEFAULT_TEMPLATE, (label(f"S{i}") for i in range(50)), out, progress=seen.append
    )
    assert count == 50
    assert seen == [24, 48, 50]  # one report a page of 3 × 8
    import pypdfium2

    assert len(pypdfium2.PdfDocument(out.getvalue())) == 3


def test_zpl_has_one_format_a_label_with_gs1_fnc1_datamatrix() -> None:
    out = io.StringIO()
    units = [label(f"S{i}") for i in range(5)]
    assert render_zpl(DEFAULT_TEMPLATE, units, out, dpi=300) == 5
    text = out.getvalue()
    formats = re.findall(r"\^XA(.*?)\^XZ", text, flags=re.S)
    assert len(formats) == 5 and text.count("^XA") == 5 and text.count("^XZ") == 5
    for unit, body in zip(units, formats, strict=True):
        assert body.count("^FO") == body.count("^FD") == body.count("^FS")
        matrix = re.search(r"\^BXN,\d+,200,,,,_\^FD(.*?)\^FS", body)
        assert matrix is not None
        # _1 is FNC1: first, and as the separator after the variable-length lot
        assert matrix.group(1).replace("_1", "\x1d").removeprefix("\x1d") == unit.element_string
        assert f"^FDMA,{unit.digital_link}^FS" in body


def test_zpl_escapes_field_data_characters_that_are_commands() -> None:
    template = Template(
        name="t", elements=(TextElement(type="text", x_mm=1, y_mm=1, text="{product_name}"),)
    )
    out = io.StringIO()
    render_zpl(template, [LabelData(serial="1", gtin=GTIN, product_name="a^b~c_d")], out)
    assert "^FH^FDa_5Eb_7Ec_5Fd^FS" in out.getvalue()


def test_zpl_datamatrix_doubles_the_escape_character_in_values() -> None:
    elements = [gs1.Element("01", GTIN), gs1.Element("10", "A_B"), gs1.Element("21", "X")]
    assert zpl_datamatrix_data(elements) == (f"_101{GTIN}10A__B_121X")


def test_a_bad_gtin_check_digit_is_refused_by_the_encoder() -> None:
    with pytest.raises(ValueError, match="(?i)checksum"):
        symbols.gs1_datamatrix("[01]09506000134353[21]ABC123")


def test_qr_element_can_hold_a_verification_url() -> None:
    template = Template(
        name="t",
        width_mm=30,
        height_mm=30,
        elements=(
            QrElement(
                type="qr",
                x_mm=3,
                y_mm=3,
                size_mm=24,
                data="https://verify.example.com/v/{gtin}/{serial}",
            ),
        ),
    )
    codes = decode(Image.open(io.BytesIO(preview_png(template, label()))))
    assert codes["QRCode"].text == f"https://verify.example.com/v/{GTIN}/ABC123"


@pytest.mark.slow
def test_every_label_of_a_100_label_pdf_decodes_to_its_own_unit() -> None:
    import pypdfium2

    units = [label(f"SN{i:05d}", lot=f"L{i % 7}") for i in range(100)]
    out = io.BytesIO()
    assert render_pdf(DEFAULT_TEMPLATE, iter(units), out) == 100
    sheet = DEFAULT_TEMPLATE.sheet
    assert sheet is not None
    dpi = 300
    scale = dpi / 25.4
    document = pypdfium2.PdfDocument(out.getvalue())
    per_page = sheet.rows * sheet.columns
    assert len(document) == -(-100 // per_page)
    read = []
    for number in range(len(document)):
        page = document[number].render(scale=dpi / 72).to_pil()
        for cell in range(min(per_page, 100 - number * per_page)):
            row, column = divmod(cell, sheet.columns)
            left = sheet.margin_left_mm + column * (DEFAULT_TEMPLATE.width_mm + sheet.gap_x_mm)
            top = sheet.margin_top_mm + row * (DEFAULT_TEMPLATE.height_mm + sheet.gap_y_mm)
            box = (left, top, left + DEFAULT_TEMPLATE.width_mm, top + DEFAULT_TEMPLATE.height_mm)
            codes = decode(page.crop(tuple(round(edge * scale) for edge in box)))
            read.append(
                (
                    codes["QRCode"].text,
                    codes["DataMatrix"].text,
                    codes["DataMatrix"].symbology_identifier,
                )
            )
    assert read == [(u.digital_link, u.element_string, "]d2") for u in units]
