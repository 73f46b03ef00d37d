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
