"""A PDF file written page by page, for print runs of any length.

fpdf2 (`FPDF.pages`) and reportlab (`PDFDocument.Pages`, written at `save()`) both keep every
page of a document in memory until the end, so a run of 100,000 labels would hold them all.
This writer sends each page to the output as soon as it is drawn and keeps only the byte offset
of each object (for the cross-reference table at the end): memory stays flat whatever the run.
It writes only what labels need: filled rectangles, text in the standard Helvetica fonts (and
Adobe's STSong-Light for Chinese, which PDF readers supply), and RGB images (logos).
"""

from __future__ import annotations

import zlib
from typing import BinaryIO

PT_PER_MM = 72 / 25.4

# object numbers fixed up front: the page tree is written last, when its kids are known
_CATALOG, _PAGES, _HELVETICA, _HELVETICA_BOLD, _SONG, _SONG_CID, _SONG_DESCRIPTOR = range(1, 8)
FONTS = {"F1": _HELVETICA, "F2": _HELVETICA_BOLD, "F3": _SONG}


def pdf_string(text: str) -> tuple[str, bytes]:
    """The font and the string operand of a text: Helvetica (WinAnsi), else STSong (UCS-2)."""
    try:
        raw = text.encode("cp1252")
    except UnicodeEncodeError:
        ucs2 = "".join(c if ord(c) < 0x10000 else "?" for c in text).encode("utf-16-be")
        return "F3", b"<" + ucs2.hex().encode() + b">"
    escaped = raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    return "F1", b"(" + escaped + b")"


class PdfStream:
    """Write a PDF to `out`: `image()` before the first page, `page()` for each, then `close()`."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.offsets: dict[int, int] = {}
        self.next_number = _SONG_DESCRIPTOR + 1
        self.pages: list[int] = []
        self.position = 0
        self._write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        self._object(
            _HELVETICA,
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        )
        self._object(
            _HELVETICA_BOLD,
            b"<< /Type /Font /Subtype /Type1 /BaseFont "
            b"/Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        )
        self._object(
            _SONG,
            b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light "
            b"/Encoding /UniGB-UCS2-H /DescendantFonts [%d 0 R] >>" % _SONG_CID,
        )
        self._object(
            _SONG_CID,
            b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
            b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> "
            b"/FontDescriptor %d 0 R /DW 1000 >>" % _SONG_DESCRIPTOR,
        )
        self._object(
            _SONG_DESCRIPTOR,
            b"<< /Type /FontDescriptor /FontName /STSong-Light "
            b"/Flags 6 /FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 "
            b"/Descent -120 /CapHeight 880 /StemV 93 >>",
        )
        self.images: dict[str, int] = {}

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.position += len(data)

    def _number(self) -> int:
        self.next_number += 1
        return self.next_number - 1

    def _object(self, number: int, body: bytes, stream: bytes | None = None) -> None:
        self.offsets[number] = self.position
        self._write(b"%d 0 obj\n" % number + body)
        if stream is not None:
            self._write(b"\nstream\n" + stream + b"\nendstream")
        self._write(b"\nendobj\n")

    def image(self, name: str, width: int, height: int, rgb: bytes) -> None:
        """An RGB image (8 bits a channel) the pages draw as /name."""
        data = zlib.compress(rgb)
        number = self._number()
        self._object(
            number,
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
            b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>" % (width, height, len(data)),
            data,
        )
        self.images[name] = number

    def page(self, width_mm: float, height_mm: float, content: bytes) -> None:
        data = zlib.compress(content)
        stream_number, page_number = self._number(), self._number()
        self._object(stream_number, b"<< /Filter /FlateDecode /Length %d >>" % len(data), data)
        fonts = b" ".join(b"/%s %d 0 R" % (name.encode(), n) for name, n in FONTS.items())
        images = b" ".join(b"/%s %d 0 R" % (name.encode(), n) for name, n in self.images.items())
        self._object(
            page_number,
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Contents %d 0 R "
            b"/Resources << /Font << %s >> /XObject << %s >> >> >>"
            % (_PAGES, width_mm * PT_PER_MM, height_mm * PT_PER_MM, stream_number, fonts, images),
        )
        self.pages.append(page_number)

    def close(self) -> None:
        kids = b" ".join(b"%d 0 R" % n for n in self.pages)
        self._object(_PAGES, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self.pages)))
        self._object(_CATALOG, b"<< /Type /Catalog /Pages %d 0 R >>" % _PAGES)
        xref_at = self.position
        count = self.next_number
        lines = [b"xref\n0 %d\n0000000000 65535 f \n" % count]
        for number in range(1, count):
            lines.append(b"%010d 00000 n \n" % self.offsets[number])
        self._write(b"".join(lines))
        self._write(
            b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (count, _CATALOG, xref_at)
        )
