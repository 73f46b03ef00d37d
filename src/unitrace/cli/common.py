"""What every command shares: the database from settings, and one mapping of errors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from rich.console import Console
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from unitrace.config import Settings
from unitrace.core.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    Unauthorized,
    UnitraceError,
    ValidationError,
)
from unitrace.db.engine import Database

console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=BaseModel)

EXIT_CODES: dict[type[UnitraceError], int] = {
    ValidationError: 2,
    NotFound: 3,
    Conflict: 4,
    InvalidTransition: 4,
    Forbidden: 5,
    Unauthorized: 5,
}


_opened: list[Database] = []


def database() -> Database:
    """The database from the settings; closed when the command ends."""
    db = Database(Settings.from_env().database_url)
    _opened.append(db)
    return db


def _close_all() -> None:
    while _opened:
        _opened.pop().dispose()


def validated(model: type[M], **values: Any) -> M:
    """The command's values as the edge's schema, or the same field errors the API gives."""
    try:
        return model(**values)
    except PydanticValidationError as exc:
        from unitrace.api.problems import from_pydantic

        raise from_pydantic(exc) from None


def scanned_lines(path: Path) -> list[str]:
    """A file's lines of serials or scanned codes: split at line ends only (`str.splitlines`
    would also split a GS1 element string at its GS separators)."""
    return path.read_text().replace("\r\n", "\n").split("\n")


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(Text.assemble(("error: ", "bold red"), message))
    return typer.Exit(code)


def handle_errors(func: F) -> F:
    """Turn typed errors into one clear line (and the field list) and a non-zero exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UnitraceError as exc:
            code = next((c for cls, c in EXIT_CODES.items() if isinstance(exc, cls)), 1)
            err_console.print(Text.assemble(("error: ", "bold red"), exc.detail))
            for item in exc.errors[:20]:
                shown = f" ({item.value!r})" if item.value is not None else ""
                err_console.print(
                    f"  {item.field}: {item.message}{shown}", highlight=False, markup=False
                )
            if len(exc.errors) > 20:
                err_console.print(f"  … and {len(exc.errors) - 20} more", highlight=False)
            raise typer.Exit(code) from None
        except ValueError as exc:  # settings and parsing problems
            raise fail(str(exc), 2) from None
        except OSError as exc:  # UNITRACE_HOME not writable, disk full …
            raise fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 1) from None
        except SQLAlchemyError as exc:  # database unreachable, schema missing …
            text = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            hint = ""
            if "no such table" in text or "does not exist" in text:
                hint = " (run `unitrace db upgrade` first)"
            raise fail(f"database error: {text}{hint}", 1) from None
        finally:
            _close_all()

    return wrapper  # type: ignore[return-value]
