"""The CBV 2.0 event hash ID: the reference files' hashes and pre-hashes, and what must not (or
must) change a hash."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from unitrace.core.errors import ValidationError
from unitrace.interop.epcis.hashing import event_hash_id, prehash

SHARED = Path(__file__).parents[2].parent / "shared" / "testdata" / "epcis"
REFERENCE = ["ReferenceEventHashAlgorithm", "epcisDocWithShippingAndTransportingEvent"]


def _document(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SHARED / "event-hash" / f"{name}.jsonld").read_text())
    return loaded


def _lines(name: str, suffix: str) -> list[str]:
    text = (SHARED / "event-hash" / f"{name}{suffix}").read_text("utf-8")
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("name", REFERENCE)
def test_reference_files_give_exactly_their_hashes_in_document_order(name: str) -> None:
    doc = _document(name)
    events = doc["epcisBody"]["eventList"]
    assert [event_hash_id(e, doc["@context"]) for e in events] == _lines(name, ".hashes")


@pytest.mark.parametrize("name", REFERENCE)
def test_reference_files_give_exactly_their_prehash_strings(name: str) -> None:
    doc = _document(name)
    events = doc["epcisBody"]["eventList"]
    assert [prehash(e, doc["@context"]) for e in events] == _lines(name, ".prehashes")


CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]

EPC_EVENT: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2024-05-06T08:00:00.000+08:00",
    "eventTimeZoneOffset": "+08:00",
    "epcList": ["urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018"],
    "action": "OBSERVE",
    "bizStep": "shipping",
    "disposition": "in_transit",
    "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
    "bizLocation": {"id": "urn:epc:id:sgln:0614141.07346.0"},
    "quantityList": [
        {"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 200, "uom": "KGM"}
    ],
    "bizTransactionList": [
        {"type": "po", "bizTransaction": "urn:epc:id:gdti:0614141.00001.1618034"}
    ],
    "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00000"}],
    "destinationList": [{"type": "owning_party", "destination": "urn:epc:id:pgln:0614141.00001"}],
}
DL_EVENT: dict[str, Any] = {
    **EPC_EVENT,
    "epcList": [
        "https://example.com/gtin/10614141073464/ser/2018",
        "https://scan.example.cn/shop/01/10614141073464/10/LOT9/21/2017?17=260101",
    ],
    "readPoint": {"id": "https://example.com/414/0614141073467/254/1234"},
    "bizLocation": {"id": "https://id.gs1.org/414/0614141073467"},
    "quantityList": [
        {
            "epcClass": "https://example.org/01/04012345123456/10/998877",
            "quantity": 200.0,
            "uom": "KGM",
        }
    ],
    "bizTransactionList": [
        {
            "bizTransaction": "https://d.example/253/06141410000121618034",
            "type": "https://ref.gs1.org/cbv/BTT-po",
        }
    ],
    "sourceList": [{"type": "owning_party", "source": "https://x.example/417/0614141000005"}],
    "destinationList": [
        {"type": "owning_party", "destination": "https://id.gs1.org/417/0614141000012"}
    ],
}


def test_an_event_with_epc_urns_and_the_same_event_with_digital_links_hash_equal() -> None:
    assert prehash(EPC_EVENT, CONTEXT) == prehash(DL_EVENT, CONTEXT)
    assert event_hash_id(EPC_EVENT, CONTEXT) == event_hash_id(DL_EVENT, CONTEXT)
    assert "epc=https://id.gs1.org/01/10614141073464/21/2017" in prehash(EPC_EVENT, CONTEXT)


def test_key_order_whitespace_and_offset_spelling_of_the_same_instant_do_not_change_it() -> None:
    reordered = json.loads(json.dumps(dict(reversed(list(EPC_EVENT.items())))))
    reordered["bizTransactionList"][0] = {
        "bizTransaction": " urn:epc:id:gdti:0614141.00001.1618034 ",
        "type": "po",
    }
    reordered["epcList"].reverse()
    reordered["eventTime"] = "2024-05-06T00:00:00Z"  # the same instant, in UTC
    reordered["recordTime"] = "2030-01-01T00:00:00Z"  # not part of the hash
    reordered["eventID"] = "ni:///sha-256;abc?ver=CBV2.0"
    reordered["errorDeclaration"] = {"declarationTime": "2030-01-01T00:00:00Z"}
    pretty = json.loads(json.dumps(EPC_EVENT, indent=4))
    assert event_hash_id(reordered, CONTEXT) == event_hash_id(EPC_EVENT, CONTEXT)
    assert event_hash_id(pretty) == event_hash_id(EPC_EVENT, CONTEXT)
    later_zone = {**EPC_EVENT, "eventTime": "2024-05-06T01:00:00.0004+01:00"}
    assert event_hash_id(later_zone) == event_hash_id(EPC_EVENT)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("eventTime", "2024-05-06T08:00:00.001+08:00"),
        ("action", "ADD"),
        ("bizStep", "receiving"),
        ("epcList", ["urn:epc:id:sgtin:0614141.107346.2017"]),
        ("readPoint", {"id": "urn:epc:id:sgln:0614141.07346.1235"}),
        ("example:note", "x"),
    ],
)
def test_a_changed_field_changes_the_hash(field: str, value: Any) -> None:
    changed = {**copy.deepcopy(EPC_EVENT), field: value}
    context = [*CONTEXT, {"example": "https://ns.example.com/epcis/"}]
    assert event_hash_id(changed, context) != event_hash_id(EPC_EVENT, context)


def test_extension_prefixes_come_from_the_document_context() -> None:
    event = {**EPC_EVENT, "ex:temp": {"ex:value": "26.0"}}
    text = prehash(event, [*CONTEXT, {"ex": "https://ns.example.com/x/"}])
    assert text.endswith("{https://ns.example.com/x/}temp{https://ns.example.com/x/}value=26")
    own = {**event, "@context": [{"ex": "https://ns.example.com/x/"}]}
    assert prehash(own) == text
    iri = "https://ns.example.com/x/"
    written_out = {**EPC_EVENT, f"{iri}temp": {f"{iri}value": "26.0"}}
    assert prehash(written_out) == text


def test_sensor_elements_ilmd_and_every_event_type_are_hashed() -> None:
    event = {
        "type": "TransformationEvent",
        "eventTime": "2024-05-06T08:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "inputEPCList": ["urn:epc:id:sgtin:0614141.107346.1"],
        "outputEPCList": ["urn:epc:id:sgtin:0614141.107346.2"],
        "inputQuantityList": [{"epcClass": "urn:epc:idpat:sgtin:4012345.098765.*", "quantity": 1}],
        "ilmd": {"ex:bestBefore": "2025-01-01"},
        "sensorElementList": [
            {
                "sensorMetadata": {"time": "2024-05-06T10:00:00+02:00"},
                "sensorReport": [
                    {"type": "Temperature", "value": 26.0, "uom": "CEL"},
                    {"type": "RelativeHumidity", "booleanValue": True},
                ],
            }
        ],
        "persistentDisposition": {"set": ["completeness_verified"]},
        "certificationInfo": "https://cert.example.com/1",
    }
    text = prehash(event, [*CONTEXT, {"ex": "https://ns.example.com/x/"}])
    assert text.startswith(
        "eventType=TransformationEventeventTime=2024-05-06T08:00:00.000Z"
        "eventTimeZoneOffset=+00:00certificationInfo=https://cert.example.com/1"
        "inputEPCListepc=https://id.gs1.org/01/10614141073464/21/1"
        "inputQuantityListquantityElementepcClass=https://id.gs1.org/01/04012345987652quantity=1"
        "outputEPCListepc=https://id.gs1.org/01/10614141073464/21/2"
        "persistentDispositionset=https://ref.gs1.org/cbv/Disp-completeness_verified"
        "sensorElementListsensorElementsensorMetadatatime=2024-05-06T08:00:00.000Z"
        "sensorReporttype=https://gs1.org/voc/RelativeHumiditybooleanValue=true"
        "sensorReporttype=https://gs1.org/voc/Temperaturevalue=26uom=CEL"
    )
    assert text.endswith("ilmd{https://ns.example.com/x/}bestBefore=2025-01-01")
    for kind in ("AggregationEvent", "TransactionEvent", "AssociationEvent"):
        other = {**EPC_EVENT, "type": kind, "parentID": "urn:epc:id:sscc:0614141.1234567890"}
        assert prehash(other).startswith(f"eventType={kind}eventTime=")
        assert "parentID=https://id.gs1.org/00/106141412345678908" in prehash(other)


def test_a_json_value_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(TypeError):
        prehash(["not", "an", "event"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        [],
        {},
        [[1]],
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59.9999+00:00",
        "1e400",
        "nan",
        "urn:epc:id:sgtin:1234567.123456.%",
        "https://a.example/01/0950600013435/21/%E4%BD%A0",
    ],
)
def test_odd_values_anywhere_give_a_hash_not_an_error(value: Any) -> None:
    for field in ("eventTime", "bizStep", "epcList", "readPoint", "ex:field"):
        event = {**EPC_EVENT, field: value}
        assert event_hash_id(event).startswith("ni:///sha-256;")
    assert prehash({**EPC_EVENT, "eventTime": "9999-12-31T23:59:59.9999+00:00"}).startswith(
        "eventType=ObjectEventeventTime=9999-12-31T23:59:59.9999+00:00"
    )


def test_an_event_nested_too_deeply_is_refused_as_invalid_input() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = {"ex:a": deep}
    with pytest.raises(ValidationError):
        prehash({**EPC_EVENT, "ex:deep": deep})


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


@pytest.mark.parametrize("name", sorted(p.name for p in (SHARED / "examples").glob("*.jsonld")))
def test_every_example_event_hashes_the_same_with_its_keys_in_any_order(name: str) -> None:
    doc = json.loads((SHARED / "examples" / name).read_text("utf-8"))
    body = doc["epcisBody"]
    events = body.get("eventList") or body["queryResults"]["resultsBody"]["eventList"]
    rng = random.Random(name)
    hashes = [event_hash_id(e, doc["@context"]) for e in events]
    assert hashes == [event_hash_id(_shuffled(e, rng), doc["@context"]) for e in events]
    assert len(set(hashes)) == len(hashes)
