"""Times as the pages and the CLI show them: in one zone, with the offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from unitrace import config
from unitrace.core.clock import shown_in


def test_a_utc_moment_is_shown_in_the_zone_with_its_offset() -> None:
    moment = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
    assert shown_in(moment, ZoneInfo("Asia/Shanghai")) == "2026-12-01 09:30 +08:00"
    assert shown_in(moment, ZoneInfo("America/New_York")) == "2026-11-30 20:30 -05:00"
    assert shown_in(moment, ZoneInfo("Asia/Kolkata"), seconds=True) == "2026-12-01 07:00:00 +05:30"


def test_iso_text_naive_utc_and_other_offsets_all_become_the_site_zone() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    assert shown_in("2026-12-01T01:30:00+00:00", shanghai) == "2026-12-01 09:30 +08:00"
    assert shown_in("2026-12-01T01:30:00", shanghai) == "2026-12-01 09:30 +08:00"  # stored UTC
    berlin = datetime(2026, 12, 1, 2, 30, tzinfo=timezone(timedelta(hours=1)))
    assert shown_in(berlin, shanghai) == "2026-12-01 09:30 +08:00"


def test_the_site_zone_is_the_setting_or_the_machine_s(monkeypatch: pytest.MonkeyPatch) -> None:
    config.site_timezone.cache_clear()
    monkeypatch.setenv("UNITRACE_TIMEZONE", "Asia/Shanghai")
    assert config.site_timezone() == ZoneInfo("Asia/Shanghai")
    config.site_timezone.cache_clear()
    monkeypatch.delenv("UNITRACE_TIMEZONE")
    monkeypatch.setenv("TZ", "Europe/Berlin")
    assert config.site_timezone() == ZoneInfo("Europe/Berlin")
    config.site_timezone.cache_clear()
    monkeypatch.setenv("UNITRACE_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValueError, match="UNITRACE_TIMEZONE.*Mars/Olympus"):
        config.Settings.from_env()
    config.site_timezone.cache_clear()
