"""Where a verification was made when the user did not say: the client's address looked up in
a table of address ranges → region (`ip_regions`), loaded by operators from a CSV
(`unitrace verify regions load FILE.csv`). `ip-regions-sample.csv` is a SAMPLE, not real
allocations: it maps private and documentation ranges to provinces, for demos and tests; an
operator loads a real table (from their IP-geolocation provider) the same way.

The table is read into memory once and again when it changes (its row count and largest id);
a lookup is a bisect over the sorted range starts.
"""

from __future__ import annotations

import bisect
import csv
import ipaddress
import re
import threading
from pathlib import Path

from sqlalchemy import Connection, delete, func, insert, select

from unitrace.core.errors import FieldError, report
from unitrace.db.engine import Database
from unitrace.db.tables import ip_regions
from unitrace.ledger.bulk import chunks

_lock = threading.Lock()
_cache: dict[str, object] = {"mark": None, "starts": [], "rows": []}
_MARK = select(func.count(), func.max(ip_regions.c.id))
_ALL = select(ip_regions.c.lo, ip_regions.c.hi, ip_regions.c.region).order_by(ip_regions.c.lo)
CHECK_EVERY = 256  # lookups between two checks that the table has not changed
_since = [CHECK_EVERY]


def key(address: str) -> str | None:
    """An address as the 32 hex digits its IPv6 form (IPv4 mapped) sorts by; None: not one."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    value = int(ip) if ip.version == 6 else int(ipaddress.IPv6Address(f"::ffff:{ip}"))
    return f"{value:032x}"


def _load(conn: Connection) -> None:
    mark = tuple(conn.execute(_MARK).one())
    if mark == _cache["mark"]:
        return
    rows = [(lo, hi, region) for lo, hi, region in conn.execute(_ALL)]
    with _lock:
        _cache.update(mark=mark, starts=[r[0] for r in rows], rows=rows)


def region_of(conn: Connection, address: str) -> str | None:
    """The region of the range the address lies in, or None."""
    _since[0] += 1
    if _since[0] >= CHECK_EVERY:
        _since[0] = 0
        _load(conn)
    wanted = key(address)
    if wanted is None:
        return None
    starts: list[str] = _cache["starts"]  # type: ignore[assignment]
    rows: list[tuple[str, str, str]] = _cache["rows"]  # type: ignore[assignment]
    at = bisect.bisect_right(starts, wanted) - 1
    if at < 0 or rows[at][1] < wanted:
        return None
    return rows[at][2]


def forget() -> None:
    """Read the table again at the next lookup (after a load, in tests)."""
    _since[0] = CHECK_EVERY
    _cache["mark"] = None


# --- loading a table of ranges (CLI: unitrace verify regions load FILE.csv) -----------------


def parse_rows(rows: list[dict[str, str]]) -> tuple[list[dict[str, str]], list[FieldError]]:
    """Rows `cidr,region` or `start,end,region` → ranges; every bad row named (row number,
    column, reason), all at once."""
    out, errors = [], []
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        where = f"row {number}"
        region = (row.get("region") or "").strip().upper()
        if not REGION.fullmatch(region):
            errors.append(FieldError(f"{where}.region", "not a region code like CN-44", region))
        lo = hi = None
        if (row.get("cidr") or "").strip():
            try:
                net = ipaddress.ip_network(row["cidr"].strip(), strict=False)
                lo, hi = key(str(net[0])), key(str(net[-1]))
            except ValueError:
                errors.append(FieldError(f"{where}.cidr", "not an address range", row["cidr"]))
        else:
            lo, hi = key(row.get("start") or ""), key(row.get("end") or "")
            for name, value in (("start", lo), ("end", hi)):
                if value is None:
                    text = row.get(name) or ""
                    errors.append(FieldError(f"{where}.{name}", "not an IP address", text))
            if lo and hi and lo > hi:
                errors.append(FieldError(f"{where}.end", "before the start", row.get("end")))
        if lo and hi and REGION.fullmatch(region):
            out.append({"lo": lo, "hi": hi, "region": region})
    return out, errors


REGION = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,6}){0,2}")


def load(db: Database, path: Path, replace: bool = True) -> int:
    """Load a CSV of ranges (header `cidr,region` or `start,end,region`): all or nothing; by
    default the table's ranges are replaced by the file's."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    ranges, errors = parse_rows(rows)
    if errors:
        raise report(f"{path.name}: {len(errors)} problems; nothing was loaded", errors)
    with db.write() as conn:
        if replace:
            conn.execute(delete(ip_regions))
        for chunk in chunks(ranges, 5000):
            conn.execute(insert(ip_regions), [{**r, "source": path.name[:200]} for r in chunk])
    forget()
    return len(ranges)


SAMPLE = Path(__file__).with_name("ip-regions-sample.csv")
