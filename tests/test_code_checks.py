"""The checks CI runs cover all of the code: mypy strict over src, the formatter's layout."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "# fmt: skip"


def test_mypy_is_strict_over_all_of_src() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert config["strict"] is True
    assert config["files"] == ["src/unitrace"]


def _markers() -> dict[str, int]:
    found = {}
    for path in sorted((ROOT / "src").rglob("*.py")):
        count = path.read_text(encoding="utf-8").count(MARKER)
        if count:
            found[str(path.relative_to(ROOT))] = count
    return found


def test_the_formatter_decides_the_layout_but_for_a_handful_of_tables() -> None:
    markers = _markers()
    assert sum(markers.values()) <= 20, markers
