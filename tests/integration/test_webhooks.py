"""Webhooks (issue 17): an outbox row in the event's transaction, signed deliveries retried with
back-off until a day has passed, the delivery log, replays, alert kinds and filters."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.factories import make_location, make_party, make_product, make_units, record
from tests.webhook_receiver import receiver, verified
from unitrace.access.principal import SYSTEM
from unitrace.core import clock
from unitrace.core.errors import UnitraceError, ValidationError
from unitrace.db.engine import Database
from unitrace.db.tables import webhook_deliveries
from unitrace.interop.webhooks import service, worker
from unitrace.interop.webhooks.schemas import ReplayRange, SubscriptionIn
from unitrace.ledger import service as ledger
from unitrace.ledger.schemas import EventIn

FAST = worker.Settings(timeout=5.0, backoff=60.0)


@pytest.fixture(autouse=True)
def _clock() -> Iterator[None]:
    yield
    clock.reset()


def subscribe(db: Database, url: str, **kw: Any) -> dict[str, Any]:
    data = {"name": "erp", "url": url, "secret": "s" * 32, **kw}
    return service.create_subscription(db, SYSTEM, SubscriptionIn(**data))


def outbox(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(webhook_deliveries)).scalar_one())


def drain(db: Database) -> int:
    sent = 0
    while tried := worker.work_once(db, FAST):
        sent += tried
    return sent


def stocked(db: Database, count: int = 3, product: str = "AC1") -> list[str]:
    make_product(db, product)
    make_location(db)
    return make_units(db, product, count)


def test_a_receiver_failing_twice_gets_the_event_on_the_third_attempt_signed(
    db: Database,
) -> None:
    serials = stocked(db)
    with receiver(fail_first=2) as hook:
        subscribe(db, hook.url, event_types=["receive"])
        record(db, type="receive", product="AC1", serials=serials, location="WH1")
        assert worker.work_once(db, FAST) == 1  # 500
        assert worker.work_once(db, FAST) == 0  # not due before its back-off
        clock.move(timedelta(seconds=61))
        assert worker.work_once(db, FAST) == 1  # 500 again
        clock.move(timedelta(seconds=121))
        assert worker.work_once(db, FAST) == 1  # 204
        clock.move(timedelta(hours=2))
        assert worker.work_once(db, FAST) == 0  # delivered: never again
    assert len(hook.got) == 3
    third = hook.got[2]
    assert verified("s" * 32, third)
    assert not verified("t" * 32, third)
    body = json.loads(third.body)
    assert body["event"]["type"] == "receive"
    assert sorted(u["serial"] for u in body["event"]["units"]) == sorted(serials)
    log = service.deliveries(db, SYSTEM)
    assert log["total"] == 1
    [one] = log["items"]
    assert one["status"] == "delivered"
    assert [a["http_status"] for a in one["log"]] == [500, 500, 204]
    assert all(isinstance(a["ms"], int) for a in one["log"])
    assert third.headers["X-Unitrace-Delivery"] == str(one["id"])


def test_a_rolled_back_atomic_batch_enqueues_and_sends_nothing(db: Database) -> None:
    serials = stocked(db)
    with receiver() as hook:
        subscribe(db, hook.url, event_types=["receive", "ship"])
        batch = [
            EventIn(type="receive", product="AC1", serials=serials, location="WH1"),
            EventIn(type="receive", product="AC1", serials=["NO-SUCH-UNIT"], location="WH1"),
        ]
        with pytest.raises(UnitraceError):
            ledger.record_events(db, SYSTEM, batch)
        assert outbox(db) == 0
        assert drain(db) == 0
    assert hook.got == []


def test_a_delivery_failing_for_a_day_is_dead_and_tried_no_more(db: Database) -> None:
    serials = stocked(db)
    with receiver(fail_first=-1) as hook:
        subscribe(db, hook.url, event_types=["receive"])
        record(db, type="receive", product="AC1", serials=serials, location="WH1")
        for _ in range(40):  # an hour apart at most: a day of attempts
            worker.work_once(db, FAST)
            clock.move(timedelta(hours=1))
        [one] = service.deliveries(db, SYSTEM)["items"]
        assert one["status"] == "dead"
        tries = len(hook.got)
        assert 20 < tries < 40  # backed off: fewer than one attempt per move
        clock.move(timedelta(days=3))
        assert drain(db) == 0
    assert len(hook.got) == tries
    assert service.deliveries(db, SYSTEM, status="dead")["total"] == 1


def test_an_unreachable_receiver_is_an_attempt_with_its_error(db: Database) -> None:
    serials = stocked(db)
    with receiver() as hook:
        url = hook.url
    subscribe(db, url, event_types=["receive"])  # the receiver is gone
    record(db, type="receive", product="AC1", serials=serials, location="WH1")
    assert worker.work_once(db, FAST) == 1
    [one] = service.deliveries(db, SYSTEM)["items"]
    assert one["status"] == "pending"
    assert one["log"][0]["http_status"] is None
    assert "Connection" in one["log"][0]["error"]


def test_replay_of_one_delivery_and_of_a_time_range_sends_them_again(db: Database) -> None:
    serials = stocked(db, 3)
    with receiver() as hook:
        sub = subscribe(db, hook.url, event_types=["receive", "ship"])
        start = clock.now()
        for serial in serials:
            record(db, type="receive", product="AC1", serials=[serial], location="WH1")
        clock.move(timedelta(hours=1))
        make_party(db)
        record(db, type="ship", product="AC1", serials=serials, party="D-EAST")
        assert drain(db) == 4
        items = service.deliveries(db, SYSTEM)["items"]
        ship = next(i for i in items if i["kind"] == "ship")
        replayed = service.replay(db, SYSTEM, ship["id"])
        assert replayed["status"] == "pending"
        assert drain(db) == 1
        span = ReplayRange.model_validate({"from": start, "to": start + timedelta(minutes=30)})
        assert service.replay_range(db, SYSTEM, sub["id"], span)["replayed"] == 3
        assert drain(db) == 3
    ids = [r.headers["X-Unitrace-Delivery"] for r in hook.got]
    assert len(ids) == 8
    assert ids.count(str(ship["id"])) == 2
    assert len(set(ids)) == 4


def test_a_subscription_hears_only_its_event_types_and_products(db: Database) -> None:
    make_product(db, "AC1")
    make_product(db, "TV", rule=None)
    make_location(db)
    ac = make_units(db, "AC1", 2)
    tv = make_units(db, "TV", None, serials=["TV1", "TV2"])
    with receiver() as hook:
        subscribe(db, hook.url, event_types=["receive"], products=["TV"])
        record(db, type="receive", product="AC1", serials=ac, location="WH1")
        record(db, type="receive", product="TV", serials=tv, location="WH1")
        make_party(db)
        record(db, type="ship", product="TV", serials=tv, party="D-EAST")
        assert drain(db) == 1
    body = json.loads(hook.got[0].body)
    assert body["event"]["products"] == ["TV"]
    assert body["event"]["type"] == "receive"


def test_a_commission_of_many_units_is_one_delivery_naming_a_bounded_list(
    db: Database,
) -> None:
    make_product(db, "AC1")
    with receiver() as hook:
        subscribe(db, hook.url, event_types=["commission"])
        make_units(db, "AC1", 5000)
        assert outbox(db) == 1
        assert drain(db) == 1
    event = json.loads(hook.got[0].body)["event"]
    assert event["unit_count"] == 5000
    assert len(event["units"]) == 100
    assert event["units_not_shown"] == 4900


def test_a_disabled_subscription_hears_nothing(db: Database) -> None:
    serials = stocked(db)
    from unitrace.interop.webhooks.schemas import SubscriptionPatch

    sub = subscribe(db, "http://127.0.0.1:18599/x", event_types=["receive"])
    service.update_subscription(db, SYSTEM, sub["id"], SubscriptionPatch(active=False))
    record(db, type="receive", product="AC1", serials=serials, location="WH1")
    assert outbox(db) == 0


def test_a_diversion_alert_is_delivered_with_its_unit(db: Database) -> None:
    make_product(db, "TV", rule=None)
    make_location(db)
    make_party(db, "D-EAST", regions=["CN-31"])
    serials = make_units(db, "TV", None, serials=["SN1", "SN2"])
    with receiver() as hook:
        subscribe(db, hook.url, alert_kinds=["diversion"])
        record(db, type="receive", product="TV", serials=serials, location="WH1")
        record(db, type="ship", product="TV", serials=serials, party="D-EAST")
        record(db, type="deliver", product="TV", serials=serials)
        record(db, type="sell", product="TV", serials=serials, region="CN-44")
        assert drain(db) == 2
    bodies = [json.loads(r.body) for r in hook.got]
    assert {b["kind"] for b in bodies} == {"diversion"}
    assert sorted(b["alert"]["serial"] for b in bodies) == serials
    assert {b["alert"]["seen_region"] for b in bodies} == {"CN-44"}
    assert {r.headers["X-Unitrace-Kind"] for r in hook.got} == {"diversion"}


def test_a_subscription_with_bad_fields_is_refused_naming_each(db: Database) -> None:
    with pytest.raises(ValidationError) as refused:
        subscribe(
            db,
            "ftp://example.com/x",
            event_types=["receive", "teleport"],
            alert_kinds=["flood"],
            products=["NOPE"],
        )
    fields = {e.field for e in refused.value.errors}
    assert fields == {"url", "event_types.1", "alert_kinds.0", "products.0"}


def test_the_secret_is_shown_once_on_creation(db: Database) -> None:
    made = service.create_subscription(
        db, SYSTEM, SubscriptionIn(name="crm", url="https://crm.example/h", alert_kinds=["claim"])
    )
    assert made["secret"].startswith("whsec_")
    assert "secret" not in service.get_subscription(db, SYSTEM, made["id"])
    assert all("secret" not in s for s in service.list_subscriptions(db, SYSTEM))


@pytest.mark.slow
def test_ten_thousand_events_give_ten_thousand_deliveries_none_twice_two_workers(
    db: Database,
) -> None:
    count = 10_000
    make_product(db, "TV", rule=None)
    make_location(db)
    serials = make_units(db, "TV", None, serials=[f"S{n:05d}" for n in range(count)])
    with receiver() as hook:
        subscribe(db, hook.url, event_types=["receive"])
        for start in range(0, count, 1000):
            ledger.record_events(
                db,
                SYSTEM,
                [
                    EventIn(type="receive", product="TV", serials=[s], location="WH1")
                    for s in serials[start : start + 1000]
                ],
            )
        assert outbox(db) == count
        errors: list[BaseException] = []

        def work() -> None:
            try:
                drain(db)
            except BaseException as failed:  # noqa: BLE001 - the test reports it
                errors.append(failed)

        workers = [threading.Thread(target=work) for _ in range(2)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        assert errors == []
    ids = [r.headers["X-Unitrace-Delivery"] for r in hook.got]
    assert len(ids) == count
    assert len(set(ids)) == count
    assert service.deliveries(db, SYSTEM, status="delivered")["total"] == count


def test_a_recall_and_a_warranty_claim_are_delivered_to_their_subscribers(
    db: Database,
) -> None:
    from unitrace.aftersales import cases
    from unitrace.aftersales.schemas import CaseIn
    from unitrace.production import recall
    from unitrace.production.schemas import RecallIn, TraceQuery

    serials = stocked(db, 2)
    make_location(db, "SVC1", kind="service")
    with receiver() as hook:
        subscribe(db, hook.url, alert_kinds=["recall", "claim"], products=["AC1"])
        trace = TraceQuery(serial=serials[0], product="AC1")
        recall.create_recall(db, SYSTEM, RecallIn(code="RC-1", title="fan", trace=trace))
        case = CaseIn(serial=serials[1], location="SVC1", warranty_claim=True,
                      override_reason="test")  # fmt: skip
        opened = cases.open_case(db, SYSTEM, case)
        cases.open_case(
            db, SYSTEM, CaseIn(serial=serials[0], location="SVC1", warranty_claim=False)
        )  # no claim
        assert drain(db) == 2
    bodies = {json.loads(r.body)["kind"]: json.loads(r.body)["alert"] for r in hook.got}
    assert set(bodies) == {"recall", "claim"}
    assert bodies["recall"]["id"] == "RC-1" and bodies["recall"]["units"] == 1
    assert bodies["recall"]["products"] == ["AC1"]
    assert bodies["claim"]["id"] == opened["number"]
    assert bodies["claim"]["serial"] == serials[1]


def test_the_server_thread_delivers_without_being_asked(db: Database) -> None:
    serials = stocked(db)
    with receiver() as hook:
        subscribe(db, hook.url, event_types=["receive"])
        thread, stop = worker.start_thread(db, poll=0.05)
        try:
            record(db, type="receive", product="AC1", serials=serials, location="WH1")
            for _ in range(400):  # a bounded wait for the thread, not a time asserted
                if hook.got:
                    break
                threading.Event().wait(0.05)
        finally:
            stop.set()
            thread.join()
    assert len(hook.got) == 1
    assert service.deliveries(db, SYSTEM, status="delivered")["total"] == 1


def test_the_cli_adds_lists_shows_deliveries_replays_and_runs_the_worker(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from unitrace.cli.main import app

    monkeypatch.setenv("UNITRACE_DATABASE_URL", db.url)
    serials = stocked(db)
    runner = CliRunner()
    with receiver() as hook:
        added = runner.invoke(app, ["webhooks", "add", "erp", hook.url, "--events", "receive"])
        assert added.exit_code == 0, added.output
        assert "whsec_" in added.output
        bad = runner.invoke(app, ["webhooks", "add", "x", "ftp://x", "--events", "nope"])
        assert bad.exit_code != 0
        assert "url" in bad.output and "event_types.0" in bad.output
        listed = runner.invoke(app, ["webhooks", "list", "--json"])
        assert json.loads(listed.output)[0]["url"] == hook.url
        record(db, type="receive", product="AC1", serials=serials, location="WH1")
        sent = runner.invoke(app, ["worker", "--once"])
        assert sent.exit_code == 0 and "1 deliveries tried" in sent.output
        log = json.loads(runner.invoke(app, ["webhooks", "deliveries", "--json"]).output)
        [one] = log["items"]
        assert one["status"] == "delivered"
        again = runner.invoke(app, ["webhooks", "replay", str(one["id"])])
        assert again.exit_code == 0, again.output
        assert runner.invoke(app, ["worker", "--once"]).exit_code == 0
    assert len(hook.got) == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com:99999/hook",
        "http://example.com:abc/hook",
        "http://example.com:0/hook",
        "http://exa mple.com/hook",
        "http://example.com/hook\r\nX-Injected: 1",
    ],
)
def test_a_url_no_request_could_be_sent_to_is_refused_when_subscribing(
    db: Database, url: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        subscribe(db, url, event_types=["receive"])
    assert [e.field for e in refused.value.errors] == ["url"]


def test_times_without_their_offset_are_named_not_a_500(db: Database) -> None:
    from datetime import datetime

    made = subscribe(db, "http://127.0.0.1:9/hook", event_types=["receive"])
    naive = datetime(2026, 1, 1)
    with pytest.raises(ValidationError) as refused:
        service.deliveries(db, SYSTEM, since=naive, until=naive)
    assert [e.field for e in refused.value.errors] == ["since", "until"]
    span = ReplayRange.model_validate({"from": naive, "to": "2027-01-01T00:00:00Z"})
    with pytest.raises(ValidationError) as refused:
        service.replay_range(db, SYSTEM, made["id"], span)
    assert [e.field for e in refused.value.errors] == ["from"]


def test_the_cli_replays_a_range_given_without_offsets_in_the_site_zone(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from unitrace.cli.main import app

    monkeypatch.setenv("UNITRACE_DATABASE_URL", db.url)
    made = subscribe(db, "http://127.0.0.1:9/hook", event_types=["receive"])
    args = ["--subscription", str(made["id"]), "--from", "2026-01-01", "--to", "2027-01-01"]
    done = CliRunner().invoke(app, ["webhooks", "replay", *args])
    assert done.exit_code == 0, done.output
    assert "0 deliveries queued again" in done.output


def test_a_change_leaving_a_subscription_nothing_to_hear_is_refused_as_on_creation(
    db: Database,
) -> None:
    from unitrace.interop.webhooks.schemas import SubscriptionPatch

    made = subscribe(db, "http://127.0.0.1:9/hook", event_types=["receive"])
    with pytest.raises(ValidationError) as refused:
        service.update_subscription(db, SYSTEM, made["id"], SubscriptionPatch(event_types=[]))
    assert [e.field for e in refused.value.errors] == ["event_types"]
    assert service.get_subscription(db, SYSTEM, made["id"])["event_types"] == ["receive"]


def test_an_event_type_named_many_times_is_kept_once(db: Database) -> None:
    made = subscribe(db, "http://127.0.0.1:9/hook", event_types=["ship", "receive"] * 5000)
    assert made["event_types"] == ["ship", "receive"]
