"""The service desk's one answer for a serial: the unit, its warranty verdict and the claim
checks; a serial we never made is answered as unknown, not as an error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.clients import Api
from tests.factories import make_location, make_product, make_units, record
from unitrace.config import site_timezone
from unitrace.db.engine import Database


def test_a_unit_sold_25_months_ago_on_24_months_from_sale_is_expired_at_the_desk(
    db: Database, api: Api
) -> None:
    make_product(db, warranty_months=24, warranty_start="sale")
    make_location(db)
    made = datetime.now(UTC) - timedelta(days=27 * 31)
    serial = make_units(db, count=1, event_time=made)[0]
    record(db, type="receive", serials=[serial], location="WH1", event_time=made)
    sold = datetime.now(UTC) - timedelta(days=25 * 31)
    record(db, type="sell", serials=[serial], event_time=sold)

    answer = api.get(f"/service-desk/{serial}")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["unit"]["serial"] == serial
    assert body["warranty"]["status"] == "expired"
    assert body["warranty"]["start_date"] == sold.astimezone(site_timezone()).date().isoformat()
    assert body["warranty"]["started_by"]["type"] == "sell"
    refused = {c["name"] for c in body["checks"] if c["result"] == "refuse"}
    assert refused == {"warranty"}


def test_a_serial_we_never_made_is_refused_as_unknown_at_the_desk(api: Api) -> None:
    body = api.get("/service-desk/NOT-OURS-1").json()

    assert body["unit"] is None
    assert [(c["name"], c["result"]) for c in body["checks"]] == [("unknown_serial", "refuse")]
