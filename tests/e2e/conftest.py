"""The floor harness's fixtures (tests/e2e/floor.py) for every browser test module."""

from tests.e2e.floor import demo, floor, floor_browser, floor_server

__all__ = ["demo", "floor", "floor_browser", "floor_server"]
