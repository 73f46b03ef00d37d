"""EPCIS 2.0 JSON Schema validation: GS1's examples pass; a bad event is refused naming its JSON
path; every problem is reported, not the first."""

from __future__ import annotations

import copy
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from unitrace.core.errors import ValidationError
from unitrace.interop.epcis.schema import (
    validate_document,
    validate_event,
    validate_query_document,
)

EXAMPLES = Path(__file__).parents[2].parent / "shared" / "testdata" / "epcis" / "examples"


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / name).read_text("utf-8"))
    return loaded


def _problems(call: Any, value: Any, *args: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        call(value, *args)
    return {e.field: e.message for e in caught.value.errors}


def test_the_examples_folder_holds_the_documents_this_test_expects() -> None:
    names = sorted(p.name for p in EXAMPLES.glob("*.jsonld"))
    assert len(names) >= 5 and "EPCISQueryDocument.jsonld" in names


@pytest.mark.parametrize(
    "name", sorted(p.name for p in EXAMPLES.glob("*.jsonld") if "Query" not in p.name)
)
def test_every_example_document_validates(name: str) -> None:
    validate_document(_load(name))
    for event in _load(name)["epcisBody"]["eventList"]:
        validate_event(event)


def test_the_query_document_validates_as_a_query_document_not_as_a_capture() -> None:
    doc = _load("EPCISQueryDocument.jsonld")
    validate_query_document(doc)
    assert _problems(validate_document, doc) == {"$.type": "must be 'EPCISDocument'"}


def test_one_invalid_event_is_refused_naming_its_json_path() -> None:
    doc = _load("Example_9.6.1-ObjectEvent.jsonld")
    assert len(doc["epcisBody"]["eventList"]) >= 2
    doc["epcisBody"]["eventList"][1]["eventTime"] = "2005-13-01T10:00:00Z"
    problems = _problems(validate_document, doc)
    assert problems == {
        "$.epcisBody.eventList[1].eventTime": "not a date and time with offset (RFC 3339)"
    }


def test_two_problems_give_two_errors() -> None:
    doc = _load("Example_9.6.1-ObjectEvent.jsonld")
    del doc["epcisBody"]["eventList"][0]["action"]
    doc["epcisBody"]["eventList"][1]["eventTime"] = "yesterday"
    problems = _problems(validate_document, doc)
    assert problems == {
        "$.epcisBody.eventList[0].action": "missing (required)",
        "$.epcisBody.eventList[1].eventTime": "not a date and time with offset (RFC 3339)",
    }


def test_an_event_alone_names_paths_from_the_given_base() -> None:
    event = copy.deepcopy(_load("Example_9.6.1-ObjectEvent.jsonld")["epcisBody"]["eventList"][0])
    event["readPoint"] = {"id": 3}
    event["bizStep"] = 5
    event["unprefixed"] = "x"
    problems = _problems(validate_event, event, "$.epcisBody.eventList[7]")
    assert problems == {
        "$.epcisBody.eventList[7].readPoint.id": "must be a JSON string",
        "$.epcisBody.eventList[7].bizStep": "must be a JSON string",
        "$.epcisBody.eventList[7].unprefixed": (
            "not a field of this object (an extension needs a namespace prefix)"
        ),
    }


def test_an_aggregation_without_its_children_says_which_fields_it_needs() -> None:
    event = {
        "type": "AggregationEvent",
        "eventTime": "2020-01-01T00:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "ADD",
    }
    assert _problems(validate_event, event) == {
        "$": "needs childEPCs or childQuantityList, or another allowed form of this object"
    }


@pytest.mark.parametrize("value", [[], "text", 3, None])
def test_input_that_is_not_a_json_object_is_refused_clearly(value: Any) -> None:
    assert _problems(validate_document, value) == {"$": "must be a JSON object"}
    assert _problems(validate_event, value, "$.x") == {"$.x": "must be a JSON object"}


def test_a_document_missing_its_header_fields_names_each() -> None:
    problems = _problems(validate_document, {"type": "EPCISDocument"})
    assert set(problems) == {"$.@context", "$.schemaVersion", "$.creationDate", "$.epcisBody"}


def test_an_event_sent_alone_must_carry_its_context() -> None:
    doc = _load("Example_9.6.1-ObjectEvent.jsonld")
    event = doc["epcisBody"]["eventList"][0]
    validate_event(event)
    assert _problems(lambda e: validate_event(e, standalone=True), event) == {
        "$.@context": "missing (required)"
    }
    validate_event({**event, "@context": doc["@context"]}, standalone=True)


@pytest.mark.parametrize("name", ["EPCIS-JSON-Schema.json", "epcis-context.jsonld"])
def test_the_vendored_gs1_files_are_unmodified_copies(name: str) -> None:
    vendored = files("unitrace.interop.epcis").joinpath(name).read_bytes()
    assert vendored == (EXAMPLES.parent / name).read_bytes()
