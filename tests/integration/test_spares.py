"""Spare-part requests (备件申请): made by a diagnosis for what the service location lacks,
listed for the warehouse, and fulfilled when the spares arrive there by scan — whatever edge
records the arrival — after which the case moves on to in_repair."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from tests.clients import Api, assert_problem
from tests.factories import make_location, make_party, make_product, make_units, record
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM, Actor
from unitrace.aftersales import cases, picking, spares
from unitrace.aftersales.schemas import CaseIn, DiagnosisIn, PartNeed, StateIn
from unitrace.core.errors import Conflict, UnitraceError
from unitrace.db.engine import Database
from unitrace.db.tables import case_history, spare_request_units, spare_requests
from unitrace.ledger import queries
from unitrace.ledger.replay import verify_ledger

WAREHOUSE = Actor("wh01", "warehouse")
PASSWORD = "correct horse battery"


def _world(db: Database, spares_in_stock: int = 3) -> list[str]:
    """A sold AC1 under warranty, a service location SVC1, a warehouse WH1 holding PCB1
    spares (and one FAN1, another product); the PCB1 serials."""
    make_product(db, warranty_months=24, warranty_start="sale")
    make_product(db, "PCB1", rule=None)
    make_product(db, "FAN1", rule=None)
    make_location(db)
    make_location(db, "SVC1", kind="service")
    made = datetime.now(UTC) - timedelta(days=60)
    serial = make_units(db, count=1, event_time=made)[0]
    record(db, type="receive", serials=[serial], location="WH1", event_time=made)
    record(db, type="sell", serials=[serial], event_time=made + timedelta(days=1))
    boards = [f"PCB-{n:03d}" for n in range(spares_in_stock)]
    if boards:
        make_units(db, "PCB1", count=None, serials=boards)
        record(db, type="receive", product="PCB1", serials=boards, location="WH1")
    make_units(db, "FAN1", count=None, serials=["FAN-001"])
    record(db, type="receive", product="FAN1", serials=["FAN-001"], location="WH1")
    return boards


def _first_ac1(conn: Any) -> str:
    from unitrace.db.tables import products, units

    return str(
        conn.execute(
            select(units.c.serial)
            .join(products, products.c.id == units.c.product_id)
            .where(products.c.code == "AC1")
        ).scalar_one()
    )


def _case_in(serial: str) -> CaseIn:
    # not a claim: one unit may have several cases here (the claim checks are not ours)
    return CaseIn(serial=serial, location="SVC1", warranty_claim=False)


def _case_needing(db: Database, quantity: int = 1, product: str = "PCB1") -> dict[str, Any]:
    """A case at SVC1, diagnosed as needing `quantity` of `product`."""
    with db.read() as conn:
        serial = _first_ac1(conn)
    opened = cases.open_case(db, SYSTEM, _case_in(serial))
    return cases.diagnose(
        db,
        SYSTEM,
        opened["number"],
        DiagnosisIn(parts_needed=[PartNeed(product=product, quantity=quantity)]),
    )


def _request(db: Database, number: str) -> dict[str, Any]:
    return picking.get_request(db, WAREHOUSE, number)


def _case_state(db: Database, number: str) -> str:
    with db.read() as conn:
        return str(cases.case_row(conn, number).state)


# --- requests made by a diagnosis --------------------------------------------------------


def test_a_diagnosis_needing_a_part_not_on_hand_creates_exactly_one_request(db: Database) -> None:
    _world(db)

    diagnosed = _case_needing(db, quantity=2)

    assert diagnosed["state"] == "waiting_for_parts"
    listed = picking.pick_list(db, WAREHOUSE)
    assert listed["total"] == 1
    (line,) = listed["items"]
    assert line["number"] == spares.number(diagnosed["spare_requests"][0])
    assert (line["case"], line["product"], line["quantity"], line["remaining"]) == (
        diagnosed["number"],
        "PCB1",
        2,
        2,
    )
    assert line["location"] == "SVC1" and line["status"] == "open"
    assert line["stock"] == [{"location": "WH1", "units": 3}]  # where to pick it from


def test_a_diagnosis_whose_part_is_on_hand_at_the_service_location_requests_nothing(
    db: Database,
) -> None:
    boards = _world(db)
    record(db, type="move", product="PCB1", serials=boards[:1], location="SVC1")

    diagnosed = _case_needing(db)

    assert diagnosed["spare_requests"] == []
    assert diagnosed["state"] == "diagnosed"
    assert picking.pick_list(db, WAREHOUSE)["total"] == 0


def test_a_spare_that_arrived_for_an_open_case_is_not_on_hand_for_the_next(db: Database) -> None:
    boards = _world(db)
    first = _case_needing(db)
    picking.pick(db, WAREHOUSE, spares.number(first["spare_requests"][0]), boards[:1])

    second = _case_needing(db)  # the board at SVC1 is the first case's

    assert len(second["spare_requests"]) == 1


# --- fulfilment by scan ------------------------------------------------------------------


def test_picking_the_spare_by_scan_fulfils_the_request_and_moves_the_case_on(
    db: Database, api: Api
) -> None:
    boards = _world(db)
    diagnosed = _case_needing(db)
    number = spares.number(diagnosed["spare_requests"][0])

    picked = api.post(f"/spare-requests/{number}/pick", {"serials": [boards[0]]})

    assert picked.status_code == 200, picked.text
    body = picked.json()
    assert (body["status"], body["fulfilled"], body["case_state"]) == ("fulfilled", 1, "in_repair")
    assert _case_state(db, diagnosed["number"]) == "in_repair"
    spare = queries.dossier(db, SYSTEM, boards[0], "PCB1")
    assert spare["location"] == "SVC1" and spare["status"] == "in_stock"
    move = spare["events"][-1]
    assert move["type"] == "move"
    assert {"type": "spare_request", "id": number} in move["biz_transactions"]
    assert {"type": "rma", "id": diagnosed["number"]} in move["biz_transactions"]
    with db.read() as conn:
        linked = conn.execute(select(spare_request_units.c.state)).scalars().all()
        noted = conn.execute(
            select(case_history.c.kind, case_history.c.by, case_history.c.to_state)
            .where(case_history.c.kind.in_(["spare", "state"]))
            .order_by(case_history.c.id)
        ).all()
    assert linked == ["arrived"]
    assert ("spare", "alice", None) in [tuple(n) for n in noted]
    assert tuple(noted[-1]) == ("state", "system", "in_repair")
    assert verify_ledger(db, SYSTEM).ok


def test_a_move_recorded_at_the_scan_station_fulfils_the_request_too(db: Database) -> None:
    # no business transaction, another edge: the pipeline step sees the spare arrive
    boards = _world(db)
    diagnosed = _case_needing(db, quantity=2)
    number = spares.number(diagnosed["spare_requests"][0])

    first = record(db, type="move", product="PCB1", serials=[boards[0]], location="SVC1")

    assert first.extra["spare_requests"][0]["number"] == number
    assert _request(db, number)["status"] == "open"
    assert _case_state(db, diagnosed["number"]) == "waiting_for_parts"
    record(db, type="move", product="PCB1", serials=[boards[1]], location="SVC1")
    line = _request(db, number)
    assert (line["status"], line["fulfilled"], line["spares"]) == ("fulfilled", 2, boards[:2])
    assert line["stock"] == []  # nothing left to pick for it
    assert _case_state(db, diagnosed["number"]) == "in_repair"


def test_a_spare_shipped_and_received_at_the_service_location_fulfils_on_receipt(
    db: Database,
) -> None:
    boards = _world(db)
    make_party(db, "COURIER", kind="retailer")
    diagnosed = _case_needing(db)

    record(db, type="ship", product="PCB1", serials=[boards[0]], party="COURIER")
    assert _case_state(db, diagnosed["number"]) == "waiting_for_parts"
    record(db, type="receive", product="PCB1", serials=[boards[0]], location="SVC1")

    assert _case_state(db, diagnosed["number"]) == "in_repair"


def test_a_spare_of_another_product_does_not_fulfil_the_request(db: Database, api: Api) -> None:
    _world(db)
    diagnosed = _case_needing(db)
    number = spares.number(diagnosed["spare_requests"][0])

    refused = api.post(f"/spare-requests/{number}/pick", {"serials": ["FAN-001"]})
    record(db, type="move", product="FAN1", serials=["FAN-001"], location="SVC1")

    body = assert_problem(refused, 422, "serials.0")
    assert "is a FAN1, not a PCB1" in body["errors"][0]["message"]
    line = _request(db, number)
    assert (line["status"], line["fulfilled"]) == ("open", 0)
    assert _case_state(db, diagnosed["number"]) == "waiting_for_parts"


def test_a_spare_already_at_the_service_location_moved_there_again_fulfils_nothing(
    db: Database,
) -> None:
    boards = _world(db)
    make_location(db, "SVC2", kind="service")
    first = _case_needing(db)
    record(db, type="move", product="PCB1", serials=boards[:1], location="SVC1")  # fulfils
    assert _request(db, spares.number(first["spare_requests"][0]))["status"] == "fulfilled"
    second = _case_needing(db)

    record(db, type="move", product="PCB1", serials=boards[:1], location="SVC1")

    assert _request(db, spares.number(second["spare_requests"][0]))["fulfilled"] == 0


def test_a_pick_tells_every_problem_at_once_and_writes_nothing(db: Database, api: Api) -> None:
    boards = _world(db)
    number = spares.number(_case_needing(db)["spare_requests"][0])

    refused = api.post(
        f"/spare-requests/{number}/pick",
        {"serials": ["NOPE-1", "FAN-001", boards[0], boards[0]]},
    )

    body = assert_problem(refused, 422)
    fields = [e["field"] for e in body["errors"]]
    assert {"serials.0", "serials.1", "serials.3", "serials"} <= set(fields)
    assert queries.dossier(db, SYSTEM, boards[0], "PCB1")["location"] == "WH1"


def test_a_pick_for_a_request_that_is_no_longer_open_is_a_conflict(db: Database, api: Api) -> None:
    boards = _world(db)
    number = spares.number(_case_needing(db)["spare_requests"][0])
    api.post(f"/spare-requests/{number}/pick", {"serials": [boards[0]]})

    again = api.post(f"/spare-requests/{number}/pick", {"serials": [boards[1]]})

    body = assert_problem(again, 409, "request")
    assert "fulfilled" in body["detail"]
    assert queries.dossier(db, SYSTEM, boards[1], "PCB1")["location"] == "WH1"


def test_two_scanners_one_request_of_one_one_fulfils_and_the_other_is_told(db: Database) -> None:
    boards = _world(db)
    number = spares.number(_case_needing(db)["spare_requests"][0])
    barrier = threading.Barrier(2)
    outcomes: list[object] = [None, None]

    def scan(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = picking.pick(db, WAREHOUSE, number, [boards[i]])
        except UnitraceError as error:
            outcomes[i] = error

    threads = [threading.Thread(target=scan, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    told = [o for o in outcomes if isinstance(o, Exception)]
    assert len(told) == 1 and isinstance(told[0], Conflict), outcomes
    assert "fulfilled" in told[0].detail
    line = _request(db, number)
    assert (line["status"], line["fulfilled"], len(line["spares"])) == ("fulfilled", 1, 1)
    where = [queries.dossier(db, SYSTEM, b, "PCB1")["location"] for b in boards[:2]]
    assert sorted(where) == ["SVC1", "WH1"]  # the loser's spare stayed on the shelf
    assert verify_ledger(db, SYSTEM).ok


# --- cancelling, the list, who may -------------------------------------------------------


def test_cancelling_the_last_open_request_moves_the_case_on_when_others_arrived(
    db: Database, api: Api
) -> None:
    boards = _world(db)
    with db.read() as conn:
        serial = _first_ac1(conn)
    opened = cases.open_case(db, SYSTEM, _case_in(serial))
    needs = [PartNeed(product="PCB1"), PartNeed(product="FAN1")]
    made = cases.diagnose(db, SYSTEM, opened["number"], DiagnosisIn(parts_needed=needs))
    board, fan = (spares.number(i) for i in made["spare_requests"])
    picking.pick(db, WAREHOUSE, board, boards[:1])
    assert _case_state(db, opened["number"]) == "waiting_for_parts"

    no_reason = api.post(f"/spare-requests/{fan}/cancel", {"reason": ""})
    cancelled = api.post(f"/spare-requests/{fan}/cancel", {"reason": "fan found at SVC1"})

    assert_problem(no_reason, 422, "reason")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["case_state"] == "in_repair"
    assert _request(db, fan)["status"] == "cancelled"
    listed = api.get("/spare-requests", status=["cancelled", "fulfilled"]).json()
    assert [i["number"] for i in listed["items"]] == [board, fan]


def test_closing_a_case_cancels_its_open_requests_and_leaves_the_fulfilled(db: Database) -> None:
    boards = _world(db)
    with db.read() as conn:
        serial = _first_ac1(conn)
    opened = cases.open_case(db, SYSTEM, _case_in(serial))
    needs = [PartNeed(product="PCB1"), PartNeed(product="FAN1")]
    made = cases.diagnose(db, SYSTEM, opened["number"], DiagnosisIn(parts_needed=needs))
    board, fan = (spares.number(i) for i in made["spare_requests"])
    picking.pick(db, WAREHOUSE, board, boards[:1])

    cases.change_state(db, SYSTEM, opened["number"], StateIn(to="closed", outcome="rejected"))

    assert _request(db, board)["status"] == "fulfilled"
    assert _request(db, fan)["status"] == "cancelled"  # nobody waits for the fan any more
    with db.read() as conn:
        texts = conn.execute(select(case_history.c.text)).scalars().all()
    assert f"{fan} cancelled: the case was closed" in texts
    assert not picking.pick_list(db, WAREHOUSE, ["open"], None, None, None)["items"]


def test_the_pick_list_is_oldest_first_and_filters(db: Database, api: Api) -> None:
    _world(db)
    make_location(db, "SVC2", kind="service")
    first = _case_needing(db)
    second = _case_needing(db, product="FAN1")

    every = api.get("/spare-requests").json()
    boards = api.get("/spare-requests", product="PCB1").json()
    elsewhere = api.get("/spare-requests", location="SVC2").json()
    wrong = api.get("/spare-requests", status="lost", location="NOWHERE", product="NOPE")

    assert [i["case"] for i in every["items"]] == [first["number"], second["number"]]
    assert [i["product"] for i in boards["items"]] == ["PCB1"]
    assert elsewhere == {"items": [], "total": 0}
    assert_problem(wrong, 422, "status")


def test_a_partner_cannot_see_the_pick_list_or_pick(db: Database, api: Api) -> None:
    boards = _world(db)
    number = spares.number(_case_needing(db)["spare_requests"][0])
    make_party(db, "D-A")
    access.create_user(db, SYSTEM, "partner-a", PASSWORD, "partner", "D-A")
    token = access.create_token(db, SYSTEM, "partner-a", "tests")["token"]
    partner = {"Authorization": f"Bearer {token}"}

    listed = api.get("/spare-requests", headers=partner)
    picked = api.post(f"/spare-requests/{number}/pick", {"serials": boards[:1]}, partner)

    assert_problem(listed, 403)
    assert_problem(picked, 403)
    assert_problem(api.get("/spare-requests", headers=api.reader), 403)
    assert _request(db, number)["status"] == "open"


def test_an_unknown_request_is_not_found(db: Database, api: Api) -> None:
    _world(db)

    assert_problem(api.get("/spare-requests/SR-999999"), 404)
    assert_problem(api.post("/spare-requests/banana/pick", {"serials": ["X"]}), 404)


def test_requests_made_in_one_batch_each_count_once(db: Database) -> None:
    # two events of one batch bring two spares for one request of one: the second waits
    boards = _world(db)
    number = spares.number(_case_needing(db)["spare_requests"][0])
    from unitrace.ledger.schemas import EventIn
    from unitrace.ledger.service import record_events

    record_events(
        db,
        SYSTEM,
        [
            EventIn(type="move", product="PCB1", serials=[boards[0]], location="SVC1"),
            EventIn(type="move", product="PCB1", serials=[boards[1]], location="SVC1"),
        ],
    )

    line = _request(db, number)
    assert (line["fulfilled"], line["spares"]) == (1, boards[:1])
    with db.read() as conn:
        assert conn.execute(select(spare_requests.c.status)).scalars().all() == ["fulfilled"]


def test_a_pick_that_loses_the_race_after_its_look_writes_nothing(
    db: Database, monkeypatch: Any
) -> None:
    # the other scanner fulfils the request between this pick's look and its write (what
    # PostgreSQL's concurrent transactions allow): the guarded count refuses, all rolls back
    boards = _world(db)
    number = spares.number(_case_needing(db)["spare_requests"][0])
    with db.read() as conn:
        stale = conn.execute(picking._listed().where(spare_requests.c.id == 1)).one()
    picking.pick(db, WAREHOUSE, number, boards[:1])
    monkeypatch.setattr(picking, "_open_request", lambda conn, number: stale)

    try:
        picking.pick(db, WAREHOUSE, number, boards[1:2])
        raise AssertionError("the second pick was taken")
    except Conflict as error:
        assert "fulfilled by another pick meanwhile" in error.detail

    assert queries.dossier(db, SYSTEM, boards[1], "PCB1")["location"] == "WH1"
    assert _request(db, number)["spares"] == boards[:1]


# --- the command line --------------------------------------------------------------------


def test_the_cli_lists_picks_and_cancels(db: Database, cli: Any) -> None:
    boards = _world(db)
    number = spares.number(_case_needing(db)["spare_requests"][0])
    other = spares.number(_case_needing(db, product="FAN1")["spare_requests"][0])

    listed = cli("spares", "list", "--json")
    wrong = cli("spares", "pick", number, "FAN-001")
    picked = cli("spares", "pick", number, boards[0])
    cancelled = cli("spares", "cancel", other, "--reason", "not needed")
    table = cli("spares", "list", "--status", "all")

    assert listed.exit_code == 0, listed.output
    assert [i["number"] for i in json.loads(listed.output)["items"]] == [number, other]
    assert wrong.exit_code == 2 and "is a FAN1, not a PCB1" in wrong.output
    assert picked.exit_code == 0, picked.output
    assert "1 of 1 arrived (fulfilled)" in picked.output and "in_repair" in picked.output
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.output
    assert table.exit_code == 0 and "2 in all" in table.output
    assert cli("spares", "pick", number, boards[1]).exit_code == 4  # fulfilled: a conflict


# --- the page ----------------------------------------------------------------------------


def test_the_spares_page_scans_a_spare_in_chinese_and_cancels_with_a_reason(db: Database) -> None:
    from fastapi.testclient import TestClient

    from tests.pages import login
    from unitrace.api.app import create_app

    boards = _world(db)
    first = _case_needing(db)
    second = _case_needing(db, product="FAN1")
    board, fan = (spares.number(c["spare_requests"][0]) for c in (first, second))
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        csrf = login(client, db, "warehouse", lang="zh-CN")
        client.headers["Accept-Language"] = "zh-CN"
        page = client.get(f"/spares?request={board}")
        assert page.status_code == 200
        assert "备件申请" in page.text and f'<option value="{board}" selected' in page.text
        assert 'href="/spares"' in page.text  # in the warehouse's header

        def scan(serial: str, number: str = board) -> str:
            answer = client.post(
                "/spares/scan",
                data={"serial": serial, "request": number},
                headers={"X-CSRF-Token": csrf},
            )
            assert answer.status_code == 200, answer.text
            return answer.text

        wrong = scan("FAN-001")
        picked = scan(boards[0])
        again = scan(boards[1])
        no_reason = client.post(f"/spares/{fan}/cancel", data={"csrf_token": csrf, "reason": ""})
        cancelled = client.post(
            f"/spares/{fan}/cancel", data={"csrf_token": csrf, "reason": "不再需要"}
        )

    assert 'role="alert"' in wrong and "不是所需的 PCB1" in wrong
    assert 'data-testid="scan-picked"' in picked and "已到齐" in picked and "转入维修" in picked
    assert 'role="alert"' in again and "已到齐" in again and "fulfilled" not in again
    assert no_reason.status_code == 422 and 'data-testid="error-reason"' in no_reason.text
    assert cancelled.status_code == 200 and f"申请单 {fan} 已取消" in cancelled.text
    assert _case_state(db, first["number"]) == "in_repair"


def test_the_spares_page_is_not_for_service_or_partners(db: Database) -> None:
    from fastapi.testclient import TestClient

    from tests.pages import login
    from unitrace.api.app import create_app

    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        for role in ("service", "partner"):
            csrf = login(client, db, role)
            assert client.get("/spares").status_code == 403
            scanned = client.post(
                "/spares/scan",
                data={"serial": "X", "request": "SR-000001"},
                headers={"X-CSRF-Token": csrf},
            )
            assert 'role="alert"' in scanned.text and "may not" in scanned.text
            assert 'href="/spares"' not in client.get("/").text


def test_what_is_on_hand_is_read_through_indexes(db: Database) -> None:
    # a diagnosis asks it for each part: the spares reserved for open cases are looked up by
    # unit (ix_spare_request_units_unit), never by reading every request's spares
    from tests.plans import assert_no_full_scan

    boards = _world(db)
    picking.pick(db, WAREHOUSE, spares.number(_case_needing(db)["spare_requests"][0]), boards[:1])

    assert_no_full_scan(db, spares.on_hand_query(2, 2), "spare_request_units", "units")
