"""scripts/screenshots.py names every page of the web interface, and no test writes
screenshots into the working tree (issue 13: a test run rewrote docs/screenshots/*.png)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def script() -> Any:
    spec = importlib.util.spec_from_file_location("screenshots", ROOT / "scripts/screenshots.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_screenshot_script_shows_every_page() -> None:
    assert script().missing_pages() == []


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


def test_the_readme_links_every_page_in_both_languages() -> None:
    shots = script()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = [name for name, _role, _path in shots.PAGES] + ["scan-phone"]
    unlinked = [
        f"{name}-{locale}.png"
        for name in names
        for locale in shots.LOCALES
        if f"docs/screenshots/{name}-{locale}.png" not in readme
    ]
    assert unlinked == []
