"""The barcode symbols of a label, as module matrices, from maintained encoders.

QR codes from segno; GS1 DataMatrix, GS1-128 and Code 128 from zint (zint-bindings), which
places FNC1 itself from the bracketed AI input (`[01]…[21]…`). No encoder is written here:
this module only turns each library's output into rows of dark (1) and light (0) modules that
every renderer (PDF, PNG, SVG) draws the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import segno
import zint


@dataclass(frozen=True)
class Matrix:
    """A symbol's modules, row by row (one row for a linear barcode); 1 is dark."""

    rows: tuple[bytes, ...]
    quiet: int  # the light margin the symbology needs, in modules, on each side

    @property
    def width(self) -> int:
        return len(self.rows[0])

    @property
    def height(self) -> int:
        return len(self.rows)


def runs(row: bytes) -> Iterator[tuple[int, int]]:
    """The dark runs of a row: (first module, length)."""
    start = -1
    for index, module in enumerate(row):
        if module and start < 0:
            start = index
        elif not module and start >= 0:
            yield start, index - start
            start = -1
    if start >= 0:
        yield start, len(row) - start


def qr(data: str, error: str = "M") -> Matrix:
    code = segno.make(data, error=error.lower(), micro=False, boost_error=False)
    return Matrix(rows=tuple(bytes(row) for row in code.matrix), quiet=4)


def qr_width(data: str, error: str = "M") -> int:
    """The modules across the QR code of `data` (its version), without choosing its mask."""
    code = segno.make(data, error=error.lower(), micro=False, boost_error=False, mask=0)
    return len(code.matrix)


def _zint(symbology: zint.Symbology, data: str, gs1: bool) -> Matrix:
    symbol = zint.Symbol()
    symbol.symbology = symbology
    symbol.warn_level = zint.WarningLevel.FAIL_ALL  # a bad check digit is an error, not a note
    if symbology == zint.Symbology.DATAMATRIX:
        symbol.option_3 = zint.DataMatrixOptions.SQUARE  # the element's size is a square
    if gs1:
        symbol.input_mode = zint.InputMode.GS1
    try:
        symbol.encode(data)
    except RuntimeError as exc:  # zint refuses what it cannot encode, and says why
        raise ValueError(f"cannot encode {data!r}: {exc}") from None
    width = symbol.width
    packed = symbol.encoded_data.tobytes()
    stride = len(packed) // 200  # zint's encoded_data: 200 rows of up to 1152 modules
    row_bytes = (width + 7) // 8
    rows = []
    for number in range(symbol.rows):
        # zint packs a row's modules least significant bit first (its module_is_set)
        at = number * stride
        bits = int.from_bytes(packed[at : at + row_bytes], "little")
        rows.append(bytes((bits >> column) & 1 for column in range(width)))
    quiet = 1 if symbology == zint.Symbology.DATAMATRIX else 10
    return Matrix(rows=tuple(rows), quiet=quiet)


def gs1_datamatrix(bracketed_ais: str) -> Matrix:
    """A GS1 DataMatrix (FNC1 in first position) of `[01]09506000134352[21]ABC123`."""
    return _zint(zint.Symbology.DATAMATRIX, bracketed_ais, gs1=True)


def gs1_128(bracketed_ais: str) -> Matrix:
    return _zint(zint.Symbology.GS1_128, bracketed_ais, gs1=True)


def code128(data: str) -> Matrix:
    return _zint(zint.Symbology.CODE128, data, gs1=False)
