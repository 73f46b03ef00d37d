"""scripts/screenshots.py names every page of the web interface, and no test writes
screenshots into the working tree (issue 13: a test run rewrote docs/screenshots/*.png)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_screenshot_script_shows_every_page() -> None:
    spec = importlib.util.spec_from_file_location("screenshots", ROOT / "scripts/screenshots.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.missing_pages() == []


def test_no_test_writes_the_readme_screenshots() -> None:
    writers = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").rglob("*.py")
        if path != Path(__file__)
        and any(
            s in path.read_text(encoding="utf-8")
            for s in ("UNITRACE_SCREENSHOTS", "docs/screenshots")
        )
    ]
    assert writers == []
