"""A product's picture for the public answer: `verify_settings.picture`, a file under
UNITRACE_HOME, served at `/v/{code}/picture` (web/verify_page.py)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import bindparam, select

from unitrace.config import data_home
from unitrace.db.engine import Database
from unitrace.db.fast import Fast
from unitrace.db.tables import units, verify_codes, verify_settings
from unitrace.verify import codes

TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
_PICTURE = Fast(
    select(verify_settings.c.picture)
    .select_from(verify_codes)
    .join(units, units.c.id == verify_codes.c.unit_id)
    .join(verify_settings, verify_settings.c.product_id == units.c.product_id)
    .where(verify_codes.c.code == bindparam("code"))
)


def picture_of(db: Database, code: str) -> Path | None:
    """The picture file of the code's product, or None (no such code, no picture, a name that
    leaves UNITRACE_HOME, a file missing or of another type)."""
    normal = codes.normalise(code) if len(code) <= 64 else None
    with db.read() as conn:
        name = _PICTURE.scalar(conn, {"code": normal or "-"})
    if not name or normal is None:
        return None
    home = data_home()
    path = (home / str(name)).resolve()
    if not path.is_relative_to(home) or path.suffix.lower() not in TYPES or not path.is_file():
        return None
    return path
