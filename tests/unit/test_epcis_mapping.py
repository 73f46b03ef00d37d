"""The mapping between ledger events and EPCIS 2.0 (interop/epcis/ledger_events.py), without a
database: every ledger type becomes a valid EPCIS event whose eventID is its hash ID, and
reading `core.lifecycle.RULES` backwards gives the type again."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from unitrace.core.lifecycle import RULES
from unitrace.interop.epcis import hashing, schema
from unitrace.interop.epcis.ledger_events import (
    CONTEXT,
    EPCIS_CONTEXT,
    LedgerUnit,
    ledger_type,
    to_epcis,
)


def _row(kind: str) -> SimpleNamespace:
    return SimpleNamespace(
        type=kind,
        event_id=f"EV-{kind}",
        event_time=datetime(2026, 11, 24, 2, 0, tzinfo=UTC),
        event_tz="+08:00",
        record_time=datetime(2026, 11, 24, 2, 0, 1, tzinfo=UTC),
        read_point="ST-1",
        biz_transactions=[{"type": "po", "id": "PO-1"}],
        data={"note": "x"},
    )


@pytest.mark.parametrize("kind", list(RULES))
def test_every_ledger_type_is_a_valid_epcis_event_with_its_hash_id(kind: str) -> None:
    members = [
        LedgerUnit(0, "AC1", "SN1", "09506000134352", 7),
        LedgerUnit(0, "P2", "SN/2", None, None),
        LedgerUnit(1, "AC1", "PARENT", "09506000134352", None),
        LedgerUnit(2, "AC1", "OLD", "09506000134352", 7),
    ]
    event = to_epcis(_row(kind), members, "0614141000005", "D-EAST")
    schema.validate_event(event)
    assert event["eventID"] == hashing.event_hash_id(event, [EPCIS_CONTEXT, CONTEXT])
    assert event["eventTime"] == "2026-11-24T10:00:00.000+08:00"
    assert "urn:unitrace:unit:P2:SN%2F2" in event.get("epcList", event.get("childEPCs", []))
    rule = RULES[kind]
    back = ledger_type(event["type"], event["action"], event["bizStep"], event.get("disposition"))
    assert (
        back is not None
        and back.event_type == kind
        or (
            # two ledger types that say the same in EPCIS: the first of them is read back
            back is not None
            and (back.epcis_type, back.action, back.biz_step, back.disposition)
            == (rule.epcis_type, rule.action, rule.biz_step, rule.disposition)
        )
    )


def test_receiving_is_receive_or_return_by_its_disposition() -> None:
    step = "urn:epcglobal:cbv:bizstep:receiving"
    back = ledger_type("ObjectEvent", "OBSERVE", step, "returned")
    assert back is not None and back.event_type == "return"
    found = ledger_type(
        "ObjectEvent",
        "OBSERVE",
        "receiving",
        "https://ref.gs1.org/cbv/Disp-sellable_not_accessible",
    )
    assert found is not None and found.event_type == "receive"
    assert ledger_type("ObjectEvent", "OBSERVE", "no_such_step", None) is None
