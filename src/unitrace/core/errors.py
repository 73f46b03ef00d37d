"""Typed errors raised by use cases; each edge maps them once (HTTP status, exit code, flash)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FieldError:
    """One problem with one input field; `field` is a dotted path such as `serials.3`."""

    field: str
    message: str
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.value is not None:
            value = self.value
            if isinstance(value, str) and len(value) > 100:
                value = value[:100] + "…"
            out["value"] = value
        return out


@dataclass
class UnitraceError(Exception):
    """Base of every error a user may see. `detail` is one readable sentence."""

    detail: str
    errors: list[FieldError] = field(default_factory=list)

    code = "error"
    title = "Error"

    def __post_init__(self) -> None:
        Exception.__init__(self, self.detail)

    def __str__(self) -> str:
        if not self.errors:
            return self.detail
        shown = "; ".join(f"{e.field}: {e.message}" for e in self.errors[:5])
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        return f"{self.detail} — {shown}{more}"


class ValidationError(UnitraceError):
    code = "validation"
    title = "Invalid input"


class NotFound(UnitraceError):
    code = "not-found"
    title = "Not found"


class Conflict(UnitraceError):
    code = "conflict"
    title = "Conflict"


class InvalidTransition(UnitraceError):
    code = "invalid-transition"
    title = "Transition not allowed"


class Forbidden(UnitraceError):
    code = "forbidden"
    title = "Forbidden"


class TooLarge(UnitraceError):
    """The input is over a configured limit (size, rows, cells, time); the detail names it."""

    code = "too-large"
    title = "Too large"


class Unauthorized(UnitraceError):
    code = "unauthorized"
    title = "Authentication required"


def invalid(field_name: str, message: str, value: Any = None) -> ValidationError:
    """Shortcut for the common one-field validation error."""
    return ValidationError(f"{field_name}: {message}", [FieldError(field_name, message, value)])


# --- the error builders every part uses: one place each ---------------------------------------

MAX_REPORTED = 1_000  # errors listed one by one in a reply; the count says how many in all

ErrorKind = type[UnitraceError]


def report(
    detail: str,
    errors: list[FieldError],
    kind: ErrorKind = ValidationError,
    total: int | None = None,
) -> UnitraceError:
    """An error listing problems one by one (the first MAX_REPORTED of them); `total` is how
    many there are in all when only the first ones were kept (see `Problems`)."""
    total = len(errors) if total is None else total
    shown = errors[:MAX_REPORTED]
    if total > len(shown):
        shown.append(FieldError("*", f"{total - len(shown)} more not listed"))
    return kind(f"{detail} ({total} in all)" if total > 1 else detail, shown)


class Problems:
    """Problems found one by one: the first MAX_REPORTED kept, the others only counted — an
    input that names a million unknown serials is refused without building a million errors."""

    def __init__(self) -> None:
        self.shown: list[FieldError] = []
        self.total = 0

    def __bool__(self) -> bool:
        return self.total > 0

    def add(self, error: FieldError) -> None:
        self.total += 1
        if len(self.shown) < MAX_REPORTED:
            self.shown.append(error)

    def error(self, detail: str, kind: ErrorKind = ValidationError) -> UnitraceError:
        return report(detail, self.shown, kind, self.total)


def named_twice(path: str, also: str, value: Any = None) -> FieldError:
    """One thing named twice in one input: where, and where else."""
    return FieldError(path, f"named twice (also {also})", value)


def twice_in(keys: Any) -> list[FieldError]:
    """`(path, key, value)` triples → an error for every key seen before, naming the first."""
    seen: dict[Any, str] = {}
    found = []
    for path, key, value in keys:
        if key in seen:
            found.append(named_twice(path, seen[key], value))
        else:
            seen[key] = path
    return found


def unknown_unit(serial: str, product: str | None = None) -> str:
    """How an unknown serial is said — also a unit outside a partner's scope, word for word."""
    return f"no unit with serial {serial!r}" + (f" of product {product}" if product else "")


def unknown_container(code: str) -> str:
    """How an unknown carton or pallet is said — also one outside a partner's scope."""
    return f"no carton or pallet with code {code!r}"


def not_found(detail: str, errors: list[FieldError]) -> NotFound:
    """Things that do not exist — or that a partner may not see: the same words for both."""
    return NotFound(detail + (f" ({len(errors)} in all)" if len(errors) > 1 else ""), errors)
