"""`unitrace epcis capture` and `unitrace epcis events`: the same use cases as the REST binding,
from a file; a refused document exits ≠ 0 naming the event's JSON path; two captures of one
document at the same time keep its events once."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from unitrace.access.principal import SYSTEM
from unitrace.db.engine import Database
from unitrace.interop.epcis import capture, query

EXAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata" / "epcis"
EXAMPLE = EXAMPLES / "examples" / "Example_9.6.1-ObjectEvent.jsonld"


def test_capture_a_file_then_list_its_events(cli: Any, tmp_path: Path) -> None:
    done = cli("epcis", "capture", str(EXAMPLE))
    assert done.exit_code == 0, done.output
    job = json.loads(done.output)
    assert (job["captured"], job["status"]) == (2, "done")
    listed = cli("epcis", "events", "--biz-step", "shipping", "--json")
    assert listed.exit_code == 0, listed.output
    found = json.loads(listed.output)["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [e["bizStep"] for e in found] == ["shipping"]
    lines = cli(
        "epcis", "events", "--param", "EQ_bizTransaction_po=http://transaction.acme.com/po/12345678"
    )
    assert lines.exit_code == 0 and len(lines.output.strip().splitlines()) == 2, lines.output


def test_a_refused_document_exits_naming_the_event(cli: Any, tmp_path: Path) -> None:
    document = json.loads(EXAMPLE.read_text("utf-8"))
    document["epcisBody"]["eventList"][1]["action"] = "MAYBE"
    bad = tmp_path / "bad.jsonld"
    bad.write_text(json.dumps(document), "utf-8")
    done = cli("epcis", "capture", str(bad))
    assert done.exit_code == 2, done.output
    assert "$.epcisBody.eventList[1]" in done.output
    assert cli("epcis", "events").output.strip() == ""
    kept = cli("epcis", "capture", str(bad), "--proceed")
    assert kept.exit_code == 1 and json.loads(kept.output)["captured"] == 1, kept.output


def test_an_unknown_query_parameter_exits_naming_it(cli: Any) -> None:
    done = cli("epcis", "events", "--param", "MATCH_nothing=x")
    assert done.exit_code == 2 and "MATCH_nothing" in done.output, done.output


def test_two_captures_of_one_document_at_once_keep_its_events_once(db: Database) -> None:
    document = json.loads(EXAMPLE.read_text("utf-8"))
    jobs: list[dict[str, Any]] = []
    errors: list[Exception] = []

    def run() -> None:
        try:
            jobs.append(capture.capture(db, SYSTEM, document))
        except Exception as error:  # noqa: BLE001 — reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted((j["captured"], j["duplicates"]) for j in jobs) == [(0, 2), (2, 0)]
    answer = query.query_events(db, SYSTEM, query.parse({}))
    assert len(answer["document"]["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == 2
