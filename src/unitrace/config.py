"""Settings from the environment. Every setting is documented in README.md (a test checks)."""

from __future__ import annotations

import functools
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SETTINGS = {
    "UNITRACE_HOME": "folder for the embedded SQLite database and other data (./unitrace-data)",
    "UNITRACE_DATABASE_URL": "SQLAlchemy URL; unset means SQLite at $UNITRACE_HOME/unitrace.db",
    "UNITRACE_HOST": "address `unitrace serve` listens on (127.0.0.1)",
    "UNITRACE_PORT": "port `unitrace serve` listens on (8000)",
    "UNITRACE_PARTNER_MAX_UNITS": "units one request of a partner may name — serials, units, "
    "cartons and pallets, and the units inside those (1000)",
    "UNITRACE_PARTNER_MAX_EVENTS": "events one request of a partner may hold (1000)",
    "UNITRACE_MAX_BODY_BYTES": "largest request body of any route, bytes (83886080 = 80 MiB)",
    "UNITRACE_BODY_STALL_SECONDS": "a request body that sends nothing this long: 408 (20)",
    "UNITRACE_BODY_SECONDS": "a request body not complete after this long: 408 (300)",
    "UNITRACE_HEADER_SECONDS": "a connection that has not sent a request head this long "
    "after opening or after its last answer is closed (10)",
    "UNITRACE_TRUSTED_PROXIES": "addresses or networks (comma-separated) whose "
    "X-Forwarded-For / X-Forwarded-Proto are believed (none)",
    "UNITRACE_VERIFY_KEYS": "secret keys (comma-separated, ≥ 32 characters, the first current) "
    "that make verification codes and hash PINs; unset: one kept in $UNITRACE_HOME/verify.key",
    "UNITRACE_RATE_PER_TOKEN": "API requests a second per token, sustained; 0 = no limit (50)",
    "UNITRACE_BURST_PER_TOKEN": "API requests a token may send at once above the rate (500)",
    "UNITRACE_RATE_PER_ADDRESS": "API requests a second per client address; 0 = no limit (100)",
    "UNITRACE_BURST_PER_ADDRESS": "API requests an address may send at once (1000)",
    "UNITRACE_UPLOAD_MAX_BYTES": "largest uploaded CSV or XLSX file, in bytes (10485760: 10 MB)",
    "UNITRACE_UPLOAD_MAX_UNPACKED_BYTES": "most an uploaded XLSX may unpack to, in bytes "
    "(104857600: 100 MB)",
    "UNITRACE_UPLOAD_MAX_ROWS": "most rows under the header line of an uploaded file (50000)",
    "UNITRACE_UPLOAD_MAX_COLUMNS": "the rightmost column an uploaded file may have a value in (50)",
    "UNITRACE_UPLOAD_MAX_CELLS": "most cells an uploaded file may hold, empty ones included "
    "(1000000)",
    "UNITRACE_UPLOAD_MAX_SECONDS": "longest time the server spends reading one uploaded file, "
    "in seconds (60)",
    "UNITRACE_ATTACHMENT_MAX_BYTES": "largest photo or file attached to a service case, in bytes "
    "(10 MB)",
    "UNITRACE_GS1_COMPANY_PREFIX": "GS1 company prefix (6-12 digits) that makes the SSCC of a "
    "carton or pallet whose code is not an SSCC, for its label (none)",
    "UNITRACE_TIMEZONE": "IANA time zone (`Asia/Shanghai`) that pages and the CLI show times in, "
    "with the offset (the machine's local zone)",
    "UNITRACE_PUBLIC_URL": "the resolver domain of the units' GS1 Digital Link URIs, where "
    "unitrace answers GET /01/{gtin}/21/{serial}: e.g. https://id.example.com (https://id.gs1.org)",
    "UNITRACE_GS1_PREFIXES": "GS1 company prefix lengths by the GTIN's first digits (GTIN-13 "
    "form), for products that have none: `9506000=7,69=9`, longest match wins (none)",
    "UNITRACE_WEBHOOKS_WORKER": "deliver webhooks from a thread of `unitrace serve` (on); off: "
    "run `unitrace worker` instead",
    "UNITRACE_WEBHOOKS_TIMEOUT_SECONDS": "how long a webhook delivery waits for the receiver (10)",
    "UNITRACE_WEBHOOKS_BACKOFF_SECONDS": "wait before a failed delivery's second attempt, doubled "
    "after each failure up to an hour; dead after a day (30)",
    "UNITRACE_IMPORT_MAX_ROWS": "most rows under the header line of an imported file (2000000)",
    "UNITRACE_IMPORT_MAX_BYTES": "largest imported CSV or .xlsx file, bytes (536870912: 512 MB)",
    "UNITRACE_IMPORT_MAX_UNPACKED_BYTES": "most an imported .xlsx may unpack to, bytes "
    "(2147483648: 2 GB)",
    "UNITRACE_IMPORT_MAX_COLUMNS": "the rightmost column an imported file may use (100)",
}


@dataclass(frozen=True)
class Limits:
    """What one request may cost (see docs/access.md, "Request limits")."""

    # 1,000,000 serials of the longest kind (64 characters) as a `serials` list are 68 MB
    # of JSON; 80 MiB leaves room for indentation and the other fields.
    max_body_bytes: int = 80 * 1024 * 1024
    body_stall_seconds: float = 20.0
    body_seconds: float = 300.0
    header_seconds: float = 10.0
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    rate_per_token: float = 50.0
    burst_per_token: int = 500
    rate_per_address: float = 100.0
    burst_per_address: int = 1000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Limits:
        default = cls()

        def number(name: str, fallback: float, whole: bool = False) -> float:
            text = environ.get(name, "").strip()
            if not text:
                return fallback
            try:
                value = int(text) if whole else float(text)
            except ValueError:
                value = -1
            if not 0 <= value < float("inf"):
                kind = "a whole number" if whole else "a number"
                raise ValueError(f"{name} must be {kind} ≥ 0, not {text!r}") from None
            return value

        def seconds(name: str, fallback: float) -> float:
            value = number(name, fallback)
            if value == 0:
                raise ValueError(f"{name} must be more than 0 seconds")
            return value

        max_body = int(number("UNITRACE_MAX_BODY_BYTES", default.max_body_bytes, True))
        if max_body == 0:  # every request with a body would be refused
            raise ValueError("UNITRACE_MAX_BODY_BYTES must be at least 1 byte")
        return cls(
            max_body_bytes=max_body,
            body_stall_seconds=seconds("UNITRACE_BODY_STALL_SECONDS", default.body_stall_seconds),
            body_seconds=seconds("UNITRACE_BODY_SECONDS", default.body_seconds),
            header_seconds=seconds("UNITRACE_HEADER_SECONDS", default.header_seconds),
            trusted_proxies=networks(environ.get("UNITRACE_TRUSTED_PROXIES", "")),
            rate_per_token=number("UNITRACE_RATE_PER_TOKEN", default.rate_per_token),
            burst_per_token=int(number("UNITRACE_BURST_PER_TOKEN", default.burst_per_token, True)),
            rate_per_address=number("UNITRACE_RATE_PER_ADDRESS", default.rate_per_address),
            burst_per_address=int(
                number("UNITRACE_BURST_PER_ADDRESS", default.burst_per_address, True)
            ),
        )


def networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """`10.0.0.1, 192.168.0.0/16, ::1` as networks; a ValueError names a bad entry."""
    out = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(
                f"UNITRACE_TRUSTED_PROXIES: {item!r} is not an address or network"
            ) from None
    return tuple(out)


@dataclass(frozen=True)
class UploadLimits:
    """What the server reads of one uploaded table (CSV or XLSX) before it refuses the file."""

    max_bytes: int = 10 * 1024 * 1024
    max_unpacked_bytes: int = 100 * 1024 * 1024
    max_rows: int = 50_000
    max_columns: int = 50
    max_cells: int = 1_000_000
    max_seconds: int = 60

    @classmethod
    def from_env(cls) -> UploadLimits:
        defaults = cls()
        values = {
            name: _positive(f"UNITRACE_UPLOAD_{name.upper()}", getattr(defaults, name))
            for name in defaults.__dataclass_fields__
        }
        return cls(**values)


def data_home() -> Path:
    """`UNITRACE_HOME`, the folder of the embedded database and of files kept beside it
    (attachments, label files), resolved; `./unitrace-data` when unset."""
    return Path(os.environ.get("UNITRACE_HOME", "unitrace-data")).resolve()


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    host: str
    port: int
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def from_env(cls) -> Settings:
        home = data_home()
        url = os.environ.get("UNITRACE_DATABASE_URL") or f"sqlite:///{home / 'unitrace.db'}"
        port_text = os.environ.get("UNITRACE_PORT", "8000")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"UNITRACE_PORT must be a port number, not {port_text!r}")
        host = os.environ.get("UNITRACE_HOST", "127.0.0.1")
        site_timezone()  # a wrong zone name stops the start, naming the setting
        public_url(), gs1_prefixes()  # so do these
        return cls(home, url, host, int(port_text), Limits.from_env())


@dataclass(frozen=True)
class PartnerLimits:
    """What one request of a partner may ask of the write path. A partner's batches are
    small, and every write waits while one is written: a bound keeps one token from holding
    the writer (checked before the request queues for it, and before any unit is read)."""

    max_units: int = 1_000
    max_events: int = 1_000

    @classmethod
    def from_env(cls) -> PartnerLimits:
        return cls(
            _positive("UNITRACE_PARTNER_MAX_UNITS", cls.max_units),
            _positive("UNITRACE_PARTNER_MAX_EVENTS", cls.max_events),
        )


def _positive(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name} must be a whole number ≥ 1, not {text!r}")
    return int(text)


@functools.cache
def partner_limits() -> PartnerLimits:
    """The limits from the environment, read once (`partner_limits.cache_clear()` to reread)."""
    return PartnerLimits.from_env()


def _local_zone() -> tzinfo:
    """The machine's zone: `TZ`, else the zone /etc/localtime links to, else its current offset."""
    for name in (os.environ.get("TZ", "").lstrip(":"), _linked_zone()):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    zone = datetime.now().astimezone().tzinfo
    return zone if zone is not None else UTC


def _linked_zone() -> str:
    try:
        target = Path("/etc/localtime").resolve(strict=True)
    except OSError:
        return ""
    _, found, name = str(target).partition("zoneinfo/")
    return name if found else ""


@functools.cache
def site_timezone() -> tzinfo:
    """The zone pages and the CLI show times in: `UNITRACE_TIMEZONE` (an IANA name), or the
    machine's local zone. A name that is not a zone raises ValueError naming the setting."""
    name = os.environ.get("UNITRACE_TIMEZONE", "").strip()
    if not name:
        return _local_zone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"UNITRACE_TIMEZONE must be an IANA time zone such as Asia/Shanghai, not {name!r}"
        ) from None


GS1_RESOLVER = "https://id.gs1.org"  # GS1's global resolver: the canonical Digital Link domain


def public_url() -> str:
    """The resolver domain of Digital Link URIs (`UNITRACE_PUBLIC_URL`, no trailing slash;
    GS1's resolver when unset); a value that is not an http(s) address without query or
    fragment raises ValueError naming the setting."""
    return _public_url(os.environ.get("UNITRACE_PUBLIC_URL", ""))


@functools.cache
def _public_url(setting: str) -> str:
    text = setting.strip().rstrip("/")
    if not text:
        return GS1_RESOLVER
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(
            f"UNITRACE_PUBLIC_URL must be an http(s) address such as https://id.example.com, "
            f"not {text!r}"
        )
    return text


@functools.cache
def gs1_prefixes() -> tuple[tuple[str, int], ...]:
    """`UNITRACE_GS1_PREFIXES` as (GTIN-13 digits, company prefix length), longest first."""
    found: dict[str, int] = {}
    for item in os.environ.get("UNITRACE_GS1_PREFIXES", "").replace(";", ",").split(","):
        if not item.strip():
            continue
        prefix, _, length = (part.strip() for part in item.partition("="))
        if not (prefix.isascii() and prefix.isdigit() and 1 <= len(prefix) <= 12):
            raise ValueError(
                f"UNITRACE_GS1_PREFIXES: {item.strip()!r} does not start with 1-12 digits of a "
                "GTIN-13 (e.g. 9506000=7)"
            )
        if not (length.isascii() and length.isdigit() and 6 <= int(length) <= 12):
            raise ValueError(
                f"UNITRACE_GS1_PREFIXES: {item.strip()!r} needs a company prefix length "
                "of 6-12 after '='"
            )
        found[prefix] = int(length)
    return tuple(sorted(found.items(), key=lambda pair: -len(pair[0])))


@dataclass(frozen=True)
class ImportLimits:
    """What one import (`unitrace import`, `POST /api/v1/imports`) reads before it refuses the
    file: settings UNITRACE_IMPORT_MAX_*."""

    max_rows: int = 2_000_000
    max_bytes: int = 512 * 1024 * 1024
    max_unpacked_bytes: int = 2 * 1024 * 1024 * 1024
    max_columns: int = 100

    @classmethod
    def from_env(cls) -> ImportLimits:
        defaults = cls()
        values = {
            name: _positive(f"UNITRACE_IMPORT_{name.upper()}", getattr(defaults, name))
            for name in defaults.__dataclass_fields__
        }
        return cls(**values)
