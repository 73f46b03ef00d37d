"""Stocktake: frozen expectations, scans from several scanners at once, the report of missing,
unexpected and misplaced units, approved adjustments, possible loss after two counts."""

from __future__ import annotations

import threading

import pytest

from unitrace.access.principal import SYSTEM, Actor
from unitrace.channel import stocktake
from unitrace.core.errors import Forbidden, ValidationError
from unitrace.db.engine import Database
from unitrace.ledger import queries


def test_report_names_exactly_three_missing_two_unexpected_one_misplaced(
    db: Database, shelves: list[str]
) -> None:
    opened = stocktake.open_count(db, SYSTEM, "ST-1", ["A", "B"])
    assert opened["expected"] == 30
    on_a, on_b = shelves[:20], shelves[20:30]
    seen_a = on_a[3:]  # T000-T002 missing
    seen_b = [s for s in on_b if s != "T020"]
    scans = [(s, "A") for s in seen_a] + [(s, "B") for s in seen_b]
    scans += [("T020", "A")]  # misplaced: expected on B
    scans += [("T030", "B"), ("NOT-OURS-1", "A")]  # unexpected: elsewhere, and unknown
    results: list[dict] = []
    lock = threading.Lock()

    def scanner(part: list[tuple[str, str]]) -> None:
        for serial, where in part:
            answer = stocktake.scan(db, SYSTEM, "ST-1", serial, where)
            with lock:
                results.append(answer)

    threads = [threading.Thread(target=scanner, args=(scans[k::3],)) for k in range(3)]
    threads.append(threading.Thread(target=scanner, args=(scans[:5],)))  # scanned twice
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for r in results if not r["counted"]) == 5
    report = stocktake.close_count(db, SYSTEM, "ST-1")
    assert [m["serial"] for m in report["missing"]] == ["T000", "T001", "T002"]
    assert sorted(u["serial"] for u in report["unexpected"]) == ["NOT-OURS-1", "T030"]
    assert report["misplaced"] == [{"serial": "T020", "product": "TV", "expected_at": "B",
                                    "scanned_at": "A"}]  # fmt: skip
    assert not any(m["possible_loss"] for m in report["missing"])
    with pytest.raises(ValidationError, match="closed"):
        stocktake.scan(db, SYSTEM, "ST-1", "T005", "A")

    with pytest.raises(Forbidden):
        stocktake.approve(db, Actor("w", "warehouse"), "ST-1")
    done = stocktake.approve(db, SYSTEM, "ST-1")
    assert done == {"code": "ST-1", "moved": 2, "missing": 3}
    assert queries.dossier(db, SYSTEM, "T020", "TV")["location"] == "A"
    assert queries.dossier(db, SYSTEM, "T030", "TV")["location"] == "B"
    last = queries.dossier(db, SYSTEM, "T000", "TV")["events"][-1]
    assert (last["type"], last["data"]["result"]) == ("count", "missing")

    stocktake.open_count(db, SYSTEM, "ST-2", ["B", "A"])
    for s in shelves[3:30]:
        stocktake.scan(db, SYSTEM, "ST-2", s, "A" if s in on_a or s == "T020" else "B")
    stocktake.scan(db, SYSTEM, "ST-2", "T030", "B")
    second = stocktake.close_count(db, SYSTEM, "ST-2")
    assert [(m["serial"], m["possible_loss"]) for m in second["missing"]] == [
        ("T000", True), ("T001", True), ("T002", True)]  # fmt: skip
    assert second["unexpected"] == [] and second["misplaced"] == []


def test_scans_are_checked(db: Database, shelves: list[str]) -> None:
    stocktake.open_count(db, SYSTEM, "ST-3", ["A"])
    with pytest.raises(ValidationError, match="not counted"):
        stocktake.scan(db, SYSTEM, "ST-3", "T001", "B")
    with pytest.raises(ValidationError, match="nothing was scanned"):
        stocktake.scan(db, SYSTEM, "ST-3", "  ", "A")
    with pytest.raises(ValidationError, match="close it first"):
        stocktake.approve(db, SYSTEM, "ST-3")
