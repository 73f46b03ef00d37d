"""Token buckets by key: the request limits of the API (api/limits.py) and of the public
verification (verify/public.py)."""

from __future__ import annotations

from collections.abc import Hashable


class Buckets:
    """Token buckets by key: `rate` requests a second on average, `burst` at once. O(1) work a
    request; when the table holds MAX_KEYS keys, the full buckets (idle keys) are dropped."""

    MAX_KEYS = 100_000

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.levels: dict[Hashable, tuple[float, float]] = {}

    def take(self, key: Hashable, now: float) -> float:
        """0 if one request may go now (and takes it), else the seconds until one may."""
        level, then = self.levels.get(key) or (self.burst, now)
        level = min(self.burst, level + (now - then) * self.rate)
        if level < 1:
            self.levels[key] = (level, now)
            return (1 - level) / self.rate
        if len(self.levels) >= self.MAX_KEYS and key not in self.levels:
            self._sweep(now)
        self.levels[key] = (level - 1, now)
        return 0.0

    def _sweep(self, now: float) -> None:
        rate, burst = self.rate, self.burst
        self.levels = {
            key: (level, then)
            for key, (level, then) in self.levels.items()
            if level + (now - then) * rate < burst
        }
        if len(self.levels) >= self.MAX_KEYS:  # that many busy keys: a limit per key means little
            self.levels.clear()
