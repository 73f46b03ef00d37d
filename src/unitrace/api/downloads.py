"""A list downloaded as CSV or Excel, streamed (`interop.exports` writes it): the one place the
answer of every download is made, for the API routes (`format=csv|xlsx`) and the pages. The
heart's routes (ledger, access) reach the writer's lists and pagers through this module: they
import no capability."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask

from unitrace.interop import exports
from unitrace.interop.exports import AUDIT as AUDIT
from unitrace.interop.exports import CASES as CASES
from unitrace.interop.exports import CLONE_ALERTS as CLONE_ALERTS
from unitrace.interop.exports import DIVERSIONS as DIVERSIONS
from unitrace.interop.exports import EVENTS as EVENTS
from unitrace.interop.exports import UNITS as UNITS
from unitrace.interop.exports import inventory_columns as inventory_columns
from unitrace.interop.exports import offset_paged as offset_paged
from unitrace.interop.exports import paged as paged

Format = Literal["json", "csv", "xlsx"]  # a list as JSON, or downloaded
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _disposition(filename: str) -> str:
    """An attachment named `filename`; a name that is not ASCII also in RFC 5987's form."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    if ascii_name == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def download(
    name: str,
    columns: Sequence[str] | exports.Columns,
    rows: Iterable[Mapping[str, Any]],
    fmt: str,
    headers: Sequence[str] | None = None,
    bom: bool = False,
) -> StreamingResponse | FileResponse:
    """`rows` as `name.csv` (streamed as it is written) or `name.xlsx` (written to a temporary
    file, then streamed, the file deleted after). `headers`: the header line, else the keys
    (the API's); `bom`: the CSV starts with a byte order mark (the pages' downloads)."""
    if fmt == "xlsx":
        handle, where = tempfile.mkstemp(prefix="unitrace-export-", suffix=".xlsx")
        os.close(handle)
        path = Path(where)
        try:
            exports.write_xlsx(rows, columns, path, name, headers)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return FileResponse(
            path,
            media_type=XLSX,
            headers={"Content-Disposition": _disposition(f"{name}.xlsx")},
            background=BackgroundTask(path.unlink, missing_ok=True),
        )
    return StreamingResponse(
        exports.stream_csv(rows, columns, headers, bom),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": _disposition(f"{name}.csv")},
    )
