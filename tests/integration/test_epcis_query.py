"""EPCIS 2.0 queries (`GET /epcis/events`, `/epcis/events/{id}`, `/epcis/epcs/{epc}/events`):
ledger events answered as EPCIS with their hash IDs, the standard parameters, pages by token,
unknown parameters refused, and a partner seeing only its own units' events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.clients import Api, assert_problem
from tests.factories import make_location, make_party, make_product, make_units, record
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.db.engine import Database
from unitrace.interop.epcis import hashing, schema

GTIN = "09506000134352"
EXAMPLE = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared/testdata/epcis/examples/Example_9.6.1-ObjectEvent.jsonld"
)


def capture_example(api: Api) -> None:
    answer = api.client.post(
        "/epcis/capture",
        content=EXAMPLE.read_bytes(),
        headers={**api.admin, "Content-Type": "application/ld+json"},
    )
    assert answer.status_code == 202, answer.text


def events_of(answer: Any) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["epcisBody"]["queryResults"]["resultsBody"][
        "eventList"
    ]
    return found


def get(api: Api, path: str = "/epcis/events", headers: Any = None, **params: Any) -> Any:
    return api.client.get(path, params=params, headers=headers or api.admin)


def _world(db: Database) -> list[str]:
    make_product(db, "AC1", gtin=GTIN, gs1_company_prefix_length=7)
    make_location(db)
    make_party(db)
    serials = make_units(db, "AC1", 3)
    record(db, type="receive", product="AC1", serials=serials, location="WH1")
    return serials


def test_a_ledger_event_comes_back_as_epcis_with_its_hash_id(api: Api, db: Database) -> None:
    serials = _world(db)
    answer = api.post("/events", {"type": "ship", "product": "AC1", "serials": serials[:1],
                                  "party": "D-EAST", "event_id": "SHIP-1"})  # fmt: skip
    assert answer.status_code == 201, answer.text
    found = events_of(get(api, EQ_bizStep="shipping"))
    assert len(found) == 1
    event = found[0]
    assert event["eventID"] == hashing.event_hash_id(event, get(api).json()["@context"])
    assert event["unitrace:eventID"] == "SHIP-1"
    assert (event["type"], event["action"], event["disposition"]) == (
        "ObjectEvent", "OBSERVE", "in_transit"
    )  # fmt: skip
    assert event["epcList"] == [f"urn:epc:id:sgtin:9506000.013435.{serials[0]}"]
    schema.validate_event(event)
    schema.validate_query_document(get(api).json())  # the whole answer is valid EPCIS 2.0
    one = events_of(get(api, "/epcis/events/SHIP-1"))
    assert one == [event]


def test_epc_urn_and_digital_link_find_the_same_events(api: Api, db: Database) -> None:
    serials = _world(db)
    urn = f"urn:epc:id:sgtin:9506000.013435.{serials[1]}"
    link = f"https://brand.example/01/{GTIN}/21/{serials[1]}"
    by_urn = events_of(get(api, MATCH_epc=urn))
    by_link = events_of(get(api, MATCH_epc=link))
    assert [e["unitrace:type"] for e in by_urn] == ["commission", "receive"]
    assert by_urn == by_link
    by_path = events_of(get(api, f"/epcis/epcs/{quote(link, safe='')}/events"))
    assert by_path == by_urn
    assert events_of(get(api, MATCH_epc="urn:epc:id:sgtin:9506000.013435.NOPE")) == []


def test_time_range_and_bizstep_filters(api: Api, db: Database) -> None:
    _world(db)
    now = datetime.now(UTC)
    assert [e["unitrace:type"] for e in events_of(get(api, EQ_bizStep="receiving"))] == ["receive"]
    later = (now + timedelta(hours=1)).isoformat()
    assert events_of(get(api, GE_eventTime=later)) == []
    earlier = (now - timedelta(hours=1)).isoformat()
    assert len(events_of(get(api, GE_eventTime=earlier, LT_eventTime=later))) == 2
    assert len(events_of(get(api, GE_recordTime=earlier))) == 2
    cbv = "https://ref.gs1.org/cbv/BizStep-commissioning"
    assert [e["unitrace:type"] for e in events_of(get(api, EQ_bizStep=cbv))] == ["commission"]


def test_pages_follow_the_next_page_token_without_repeats(api: Api, db: Database) -> None:
    serials = _world(db)
    for serial in serials:
        record(db, type="inspect", product="AC1", serials=[serial])
    capture_example(api)
    everything = events_of(get(api, perPage=1000))
    assert len(everything) == 2 + 3 + 2
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"perPage": 2}
    for _ in range(10):
        answer = get(api, **params)
        seen += events_of(answer)
        link = answer.headers.get("link")
        if link is None:
            break
        token = link.split("nextPageToken=", 1)[1].split(">", 1)[0]
        params = {"perPage": 2, "nextPageToken": token}
    assert seen == everything


def test_bad_token_and_unknown_parameters_are_named(api: Api) -> None:
    body = assert_problem(get(api, nextPageToken="not-a-token"), 400, "nextPageToken")
    assert body["status"] == 400
    body = assert_problem(get(api, MATCH_everything="x", perPage="0"), 400, "MATCH_everything")
    assert "perPage" in [e["field"] for e in body["errors"]]
    assert_problem(get(api, GE_eventTime="soon"), 400, "GE_eventTime")


def test_bizTransaction_filter(api: Api, db: Database) -> None:
    serials = _world(db)
    record(db, type="inspect", product="AC1", serials=serials[:1],
           biz_transactions=[{"type": "po", "id": "PO-9"}])  # fmt: skip
    capture_example(api)
    ours = events_of(get(api, EQ_bizTransaction_po="PO-9"))
    assert [e["unitrace:type"] for e in ours] == ["inspect"]
    theirs = events_of(get(api, EQ_bizTransaction_desadv="urn:epcglobal:cbv:bt:0614141073467:1152"))
    assert [e["bizStep"] for e in theirs] == ["receiving"]


def _partner(db: Database, party: str) -> str:
    access.create_user(db, SYSTEM, f"p-{party}", "correct horse battery", "partner", party=party)
    return str(access.create_token(db, SYSTEM, f"p-{party}", "tests")["token"])


def test_a_partner_sees_only_its_own_units_events(api: Api, db: Database) -> None:
    serials = _world(db)
    make_party(db, "D-WEST")
    record(db, type="ship", product="AC1", serials=serials[:1], party="D-EAST")
    record(db, type="ship", product="AC1", serials=serials[1:2], party="D-WEST")
    capture_example(api)
    east = {"Authorization": f"Bearer {_partner(db, 'D-EAST')}"}
    found = events_of(get(api, headers=east, perPage=1000))
    mine = f"urn:epc:id:sgtin:9506000.013435.{serials[0]}"
    assert {e["unitrace:type"] for e in found} == {"commission", "receive", "ship"}
    assert all(e.get("epcList") == [mine] for e in found), json.dumps(found)
    other = f"urn:epc:id:sgtin:9506000.013435.{serials[1]}"
    assert events_of(get(api, headers=east, MATCH_epc=other)) == []
    hidden = events_of(get(api, EQ_bizStep="receiving"))[-1]["eventID"]  # a captured one
    assert_problem(get(api, f"/epcis/events/{quote(hidden, safe='')}", headers=east), 404)


def test_a_single_valued_parameter_given_twice_is_named_not_silently_taken(api: Api) -> None:
    answer = api.client.get(
        "/epcis/events?perPage=1&perPage=2&GE_eventTime=soon&GE_eventTime=2026-01-01T00:00:00Z",
        headers=api.admin,
    )
    body = assert_problem(answer, 400, "perPage")
    assert {"perPage", "GE_eventTime"} <= {e["field"] for e in body["errors"]}


def test_a_page_token_that_decodes_to_deeply_nested_json_is_not_a_token(api: Api) -> None:
    import base64

    token = base64.urlsafe_b64encode(b"[" * 5_000).decode().rstrip("=")
    assert_problem(get(api, nextPageToken=token), 400, "nextPageToken")


def test_repeated_list_parameters_still_add_up(api: Api) -> None:
    answer = get(api, eventType=["ObjectEvent", "AggregationEvent"])
    assert answer.status_code == 200, answer.text
