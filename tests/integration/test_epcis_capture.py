"""EPCIS 2.0 capture (`/epcis/capture`, `/epcis/events`): GS1's examples captured and given back
as the same events (same hash IDs), a bad event refusing the whole document by its JSON path,
`proceed` keeping the good ones, duplicates found by hash, and events about our units written
to the ledger through its one write pipeline."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.clients import Api, assert_problem
from tests.factories import make_location, make_product, make_units
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.db.engine import Database
from unitrace.interop.epcis import hashing, schema

EXAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata" / "epcis"
FILES = sorted((EXAMPLES / "examples").glob("Example_9.6.*.jsonld"))
LD = {"Content-Type": "application/ld+json"}
GTIN = "09506000134352"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / "examples" / name).read_text("utf-8"))
    return data


def post_capture(api: Api, document: Any, headers: dict[str, str] | None = None) -> Any:
    return api.client.post(
        "/epcis/capture",
        content=json.dumps(document),
        headers={**api.admin, **LD, **(headers or {})},
    )


def all_events(api: Api, **params: Any) -> list[dict[str, Any]]:
    answer = api.client.get("/epcis/events", params={"perPage": 1000, **params}, headers=api.admin)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["epcisBody"]["queryResults"]["resultsBody"][
        "eventList"
    ]
    return found


def test_the_examples_are_there() -> None:
    assert [f.name[:13] for f in FILES] == [
        "Example_9.6.1", "Example_9.6.2", "Example_9.6.3", "Example_9.6.4"
    ]  # fmt: skip


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name[:13])
def test_each_example_is_captured_and_comes_back_with_the_same_hash_ids(
    api: Api, path: Path
) -> None:
    document = json.loads(path.read_text("utf-8"))
    context = document["@context"]
    sent = document["epcisBody"]["eventList"]
    expected = [hashing.event_hash_id(e, context) for e in sent]
    answer = post_capture(api, document)
    assert answer.status_code == 202, answer.text
    assert answer.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert answer.headers["GS1-CBV-Version"] == "2.0.0"
    job = api.client.get(answer.headers["location"], headers=api.admin)
    assert job.status_code == 200 and job.json()["captured"] == len(sent), job.text
    listed = api.client.get("/epcis/events", headers=api.admin)
    assert listed.headers["content-type"].startswith("application/ld+json")
    body = listed.json()
    assert body["type"] == "EPCISQueryDocument"
    back = body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [hashing.event_hash_id(e, body["@context"]) for e in back] == expected
    for given, got in zip(sent, back, strict=True):  # kept whole: extensions, ILMD, sensors
        assert {k: v for k, v in got.items() if k != "recordTime"} == {
            k: v for k, v in given.items() if k != "recordTime"
        }


def test_a_document_with_one_bad_event_is_refused_whole_naming_its_path(
    api: Api, db: Database
) -> None:
    document = load("Example_9.6.1-ObjectEvent.jsonld")
    document["epcisBody"]["eventList"][1]["eventTime"] = "yesterday"
    body = assert_problem(post_capture(api, document), 400)
    assert any(e["field"].startswith("$.epcisBody.eventList[1]") for e in body["errors"]), body
    assert all_events(api) == []


def test_proceed_keeps_the_good_events_and_reports_the_bad_one(api: Api) -> None:
    document = load("Example_9.6.1-ObjectEvent.jsonld")
    document["epcisBody"]["eventList"][1]["eventTime"] = "yesterday"
    answer = post_capture(api, document, {"GS1-Capture-Error-Behaviour": "proceed"})
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert (job["captured"], job["refused"], job["status"]) == (1, 1, "partial")
    assert job["errors"][0]["path"].startswith("$.epcisBody.eventList[1]")
    assert [e["eventID"] for e in all_events(api)] == [
        document["epcisBody"]["eventList"][0]["eventID"]
    ]


def test_an_unknown_capture_behaviour_is_refused(api: Api) -> None:
    document = load("Example_9.6.2-ObjectEvent.jsonld")
    answer = post_capture(api, document, {"GS1-Capture-Error-Behaviour": "maybe"})
    assert_problem(answer, 400, "GS1-Capture-Error-Behaviour")


def test_a_second_capture_of_the_same_events_is_found_by_hash(api: Api) -> None:
    document = load("Example_9.6.1-ObjectEvent.jsonld")
    first = post_capture(api, document).json()
    again = copy.deepcopy(document)
    for event in again["epcisBody"]["eventList"]:
        del event["eventID"]  # the hash does not depend on the eventID
    second = post_capture(api, again).json()
    assert (first["captured"], first["duplicates"]) == (2, 0)
    assert (second["captured"], second["duplicates"]) == (0, 2)
    assert len(second["duplicate_events"]) == 2
    assert len(all_events(api)) == 2


def test_one_event_posted_alone_is_captured(api: Api) -> None:
    event = load("Example_9.6.2-ObjectEvent.jsonld")["epcisBody"]["eventList"][0]
    answer = api.client.post(
        "/epcis/events", content=json.dumps(event), headers={**api.admin, **LD}
    )
    assert answer.status_code == 201, answer.text
    got = api.client.get(answer.headers["location"], headers=api.admin)
    assert got.status_code == 200, got.text
    back = got.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert hashing.event_hash_id(back[0]) == hashing.event_hash_id(event)


def test_a_reader_may_not_capture(api: Api) -> None:
    document = load("Example_9.6.2-ObjectEvent.jsonld")
    answer = api.client.post(
        "/epcis/capture", content=json.dumps(document), headers={**api.reader, **LD}
    )
    assert_problem(answer, 403)


def _ours(db: Database, count: int = 2) -> list[str]:
    make_product(db, "AC1", gtin=GTIN, gs1_company_prefix_length=7)
    return make_units(db, "AC1", count)


def _object_event(epcs: list[str], step: str, disposition: str, action: str = "OBSERVE") -> Any:
    return {
        "type": "ObjectEvent",
        "eventTime": (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
        "eventTimeZoneOffset": "+08:00",
        "epcList": epcs,
        "action": action,
        "bizStep": step,
        "disposition": disposition,
    }


def _document(*events: Any) -> dict[str, Any]:
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-24T10:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


def test_events_about_our_units_become_ledger_events(api: Api, db: Database) -> None:
    serials = _ours(db)
    dl = [f"https://example.com/01/{GTIN}/21/{s}" for s in serials]  # any domain
    document = _document(_object_event(dl, "holding", "recalled"))
    answer = post_capture(api, document)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert (job["captured"], job["ledger_events"]) == (1, 1), job
    for serial in serials:
        answer = api.get(f"/units/{serial}")
        assert answer.json()["status"] == "recalled", answer.text


def test_a_ledger_refusal_refuses_the_document_naming_the_event(api: Api, db: Database) -> None:
    serials = _ours(db, 1)
    epc = f"https://id.gs1.org/01/{GTIN}/21/{serials[0]}"
    scrap = _object_event([epc], "destroying", "destroyed", "DELETE")
    later = datetime.now(UTC) + timedelta(seconds=2)
    twice = dict(scrap, eventTime=later.isoformat())
    body = assert_problem(post_capture(api, _document(scrap, twice)), 409)
    assert body["errors"][0]["field"] == "$.epcisBody.eventList[1]", body
    assert api.get(f"/units/{serials[0]}").json()["status"] == "commissioned"
    assert all_events(api, eventType="ObjectEvent", EQ_bizStep="destroying") == []


def test_capture_needs_the_ledger_permission_of_each_event(api: Api, db: Database) -> None:
    serials = _ours(db, 1)
    access.create_user(db, SYSTEM, "wh", "correct horse battery", "warehouse")
    token = access.create_token(db, SYSTEM, "wh", "tests")["token"]
    epc = f"https://id.gs1.org/01/{GTIN}/21/{serials[0]}"
    document = _document(_object_event([epc], "holding", "recalled"))  # recall: quality only
    answer = api.client.post(
        "/epcis/capture",
        content=json.dumps(document),
        headers={"Authorization": f"Bearer {token}", **LD},
    )
    assert_problem(answer, 403)
    assert all_events(api) == [] or all(e.get("bizStep") != "holding" for e in all_events(api))


def test_the_answers_are_valid_epcis(api: Api, db: Database) -> None:
    _ours(db, 2)
    post_capture(api, load("Example_9.6.3-AggregationEvent.jsonld"))
    for event in all_events(api):
        schema.validate_event(event)


def test_a_location_whose_code_is_the_gln_takes_a_receiving(api: Api, db: Database) -> None:
    serials = _ours(db, 1)
    make_location(db, "0614141000005")  # our warehouse's code is its GLN
    epc = f"urn:epc:id:sgtin:9506000.013435.{serials[0]}"
    event = _object_event([epc], "receiving", "sellable_not_accessible")
    event["bizLocation"] = {"id": "urn:epc:id:sgln:0614141.00000.0"}
    job = post_capture(api, _document(event)).json()
    assert job["ledger_events"] == 1, job
    unit = api.get(f"/units/{serials[0]}").json()
    assert (unit["status"], unit["location"]) == ("in_stock", "0614141000005"), unit


def test_a_receiving_at_a_place_not_ours_stays_an_epcis_event(api: Api, db: Database) -> None:
    serials = _ours(db, 1)
    epc = f"urn:epc:id:sgtin:9506000.013435.{serials[0]}"
    event = _object_event([epc], "receiving", "sellable_not_accessible")
    event["bizLocation"] = {"id": "urn:epc:id:sgln:0614141.00000.0"}
    job = post_capture(api, _document(event)).json()
    assert (job["captured"], job["ledger_events"]) == (1, 0), job
    assert "bizLocation" in job["epcis_only"][0]["message"]
    assert api.get(f"/units/{serials[0]}").json()["status"] == "commissioned"


def test_an_aggregation_of_our_units_assembles_them_and_comes_back(api: Api, db: Database) -> None:
    parent, child = _ours(db, 2)
    urn = "urn:epc:id:sgtin:9506000.013435."
    event = {
        "type": "AggregationEvent",
        "eventTime": (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
        "eventTimeZoneOffset": "+00:00",
        "parentID": urn + parent,
        "childEPCs": [urn + child],
        "action": "ADD",
        "bizStep": "assembling",
        "disposition": "in_progress",
    }
    job = post_capture(api, _document(event)).json()
    assert job["ledger_events"] == 1, job
    assert api.get(f"/units/{child}").json()["status"] == "installed"
    back = all_events(api, MATCH_parentID=urn + parent)
    assert [(e["parentID"], e["childEPCs"]) for e in back] == [(urn + parent, [urn + child])]


def test_a_document_over_the_body_limit_is_refused_unread(db: Database) -> None:
    from fastapi.testclient import TestClient

    from unitrace.api.app import create_app
    from unitrace.config import Limits

    access.create_user(db, SYSTEM, "cap", "correct horse battery", "admin")
    token = access.create_token(db, SYSTEM, "cap", "tests")["token"]
    document = json.dumps(load("Example_9.6.1-ObjectEvent.jsonld"))
    app = create_app(db, Limits(max_body_bytes=len(document) - 1))
    with TestClient(app, raise_server_exceptions=False) as client:
        headers = {"Authorization": f"Bearer {token}", **LD}
        answer = client.post("/epcis/capture", content=document, headers=headers)
        assert_problem(answer, 413)
        missing = client.post("/epcis/capture", content=document, headers=LD)
        assert_problem(missing, 401)  # the token is asked for before the body is read
        listed = client.get("/epcis/events", headers=headers)
        assert listed.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []


@pytest.mark.parametrize("path", ["/epcis/capture", "/epcis/events"])
def test_a_body_nested_deeper_than_the_parser_goes_is_a_400_naming_the_body(
    api: Api, path: str
) -> None:
    body = "[" * 100_000 + "]" * 100_000
    answer = api.client.post(path, content=body, headers={**api.admin, **LD})
    assert_problem(answer, 400, "$")


@pytest.mark.parametrize("capture_id", ["9" * 30, str(2**63), "0"])
def test_a_capture_id_past_what_the_database_holds_is_unknown(api: Api, capture_id: str) -> None:
    answer = api.client.get(f"/epcis/capture/{capture_id}", headers=api.admin)
    assert_problem(answer, 404, "id")


def _deep_event(depth: int) -> dict[str, Any]:
    event = copy.deepcopy(load("Example_9.6.2-ObjectEvent.jsonld")["epcisBody"]["eventList"][0])
    nested: Any = 1
    for _ in range(depth):
        nested = {"ex:a": nested}
    event["ex:deep"] = nested
    return event


def test_an_event_too_deep_to_hash_is_named_by_its_json_path(api: Api) -> None:
    document = load("Example_9.6.2-ObjectEvent.jsonld")
    document["epcisBody"]["eventList"].append(_deep_event(600))
    path = f"$.epcisBody.eventList[{len(document['epcisBody']['eventList']) - 1}]"
    assert_problem(post_capture(api, document), 400, path)
    kept = post_capture(api, document, {"GS1-Capture-Error-Behaviour": "proceed"})
    assert kept.status_code == 202, kept.text
    assert [e["path"] for e in kept.json()["errors"]] == [path]
    alone = api.client.post(
        "/epcis/events", content=json.dumps(_deep_event(600)), headers={**api.admin, **LD}
    )
    assert_problem(alone, 400, "$")
