"""The webhooks page (issue 17): an administrator adds a subscription and sees its secret
once, a bad one is refused naming each field in Chinese, pause and replay are forms, other
roles get 403; the API refuses a bad subscription naming every field at once."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import make_location, make_product, make_units, record
from tests.pages import login
from unitrace.access.principal import SYSTEM
from unitrace.access.service import create_token, create_user
from unitrace.api.app import create_app
from unitrace.db.engine import Database
from unitrace.interop.webhooks import service
from unitrace.interop.webhooks.schemas import SubscriptionIn


def test_admin_adds_a_subscription_and_sees_its_secret_once(db: Database) -> None:
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        csrf = login(client, db, "admin", "zh-CN")
        form = {
            "csrf_token": csrf,
            "name": "仓储系统",
            "url": "https://wms.example.com/hook",
            "event_types": ["ship", "receive"],
            "alert_kinds": ["diversion"],
            "products": "",
        }
        added = client.post("/webhooks", data=form)
        assert added.status_code == 201
        [made] = service.list_subscriptions(db, SYSTEM)
        assert made["event_types"] == ["ship", "receive"]
        assert made["alert_kinds"] == ["diversion"]
        assert 'data-testid="secret"' in added.text
        again = client.get("/webhooks")
        assert again.status_code == 200
        assert "仓储系统" in again.text and 'data-testid="secret"' not in again.text
        paused = client.post(
            f"/webhooks/subscriptions/{made['id']}/pause",
            data={"csrf_token": csrf},
            follow_redirects=False,
        )
        assert paused.status_code == 303
        assert service.get_subscription(db, SYSTEM, made["id"])["active"] is False


def test_a_bad_subscription_on_the_page_names_each_field_in_chinese(db: Database) -> None:
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        csrf = login(client, db, "admin", "zh-CN")
        refused = client.post(
            "/webhooks",
            data={"csrf_token": csrf, "name": "x", "url": "ftp://x", "products": "NOPE",
                  "event_types": ["ship"]},
            headers={"Accept-Language": "zh-CN"},
        )  # fmt: skip
        assert refused.status_code == 422
        assert 'data-testid="error-url"' in refused.text
        assert 'data-testid="error-products"' in refused.text
        assert "须为带主机名的" in refused.text
        assert service.list_subscriptions(db, SYSTEM) == []


def test_the_page_replays_a_delivery(db: Database) -> None:
    make_product(db)
    make_location(db)
    serials = make_units(db, "AC1", 2)
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        csrf = login(client, db, "admin")
        service.create_subscription(
            db,
            SYSTEM,
            SubscriptionIn(name="erp", url="http://127.0.0.1:18599/h", event_types=["receive"]),
        )
        record(db, type="receive", product="AC1", serials=serials, location="WH1")
        [delivery] = service.deliveries(db, SYSTEM)["items"]
        page = client.get("/webhooks")
        assert f'data-testid="delivery-{delivery["id"]}"' in page.text
        replayed = client.post(
            f"/webhooks/deliveries/{delivery['id']}/replay",
            data={"csrf_token": csrf},
            follow_redirects=False,
        )
        assert replayed.status_code == 303


def test_other_roles_may_not_open_the_webhooks_page(db: Database) -> None:
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        for role in ("quality", "auditor", "production"):
            login(client, db, role)
            assert client.get("/webhooks").status_code == 403


def test_the_api_refuses_a_bad_subscription_naming_every_field(db: Database) -> None:
    create_user(db, SYSTEM, "boss", "correct horse battery", "admin")
    token = create_token(db, SYSTEM, "boss", "t")["token"]
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        answer = client.post(
            "/api/v1/webhooks/subscriptions",
            headers={"Authorization": f"Bearer {token}"},
            json={"name": "", "url": "javascript:alert(1)", "event_types": ["nope"],
                  "alert_kinds": ["flood"]},
        )  # fmt: skip
        assert answer.status_code == 422
        assert answer.headers["content-type"] == "application/problem+json"
        fields = {e["field"] for e in answer.json()["errors"]}
        assert fields == {"name", "url", "event_types.0", "alert_kinds.0"}
        made = client.post(
            "/api/v1/webhooks/subscriptions",
            headers={"Authorization": f"Bearer {token}"},
            json={"name": "erp", "url": "https://erp.example/h", "event_types": ["ship"]},
        )
        assert made.status_code == 201 and made.json()["secret"].startswith("whsec_")
        listed = client.get(
            "/api/v1/webhooks/subscriptions", headers={"Authorization": f"Bearer {token}"}
        )
        assert "secret" not in listed.json()[0]


def test_the_page_sends_a_time_range_again_and_names_a_bad_time(db: Database) -> None:
    make_product(db)
    make_location(db)
    serials = make_units(db, "AC1", 2)
    hook = SubscriptionIn(name="erp", url="http://127.0.0.1:18599/h", event_types=["receive"])
    made = service.create_subscription(db, SYSTEM, hook)
    for serial in serials:
        record(db, type="receive", product="AC1", serials=[serial], location="WH1")
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        csrf = login(client, db, "admin", "zh-CN")
        form = {"csrf_token": csrf, "subscription": str(made["id"]),
                "from": "2000-01-01T00:00", "to": "2100-01-01T00:00"}  # fmt: skip
        sent = client.post("/webhooks/replay-range", data=form, follow_redirects=False)
        assert sent.status_code == 303 and sent.headers["location"] == "/webhooks?queued=2"
        shown = client.get(sent.headers["location"], headers={"Accept-Language": "zh-CN"})
        assert "已重新排队的推送" in shown.text
        bad = client.post(
            "/webhooks/replay-range",
            data={**form, "to": "next tuesday"},
            headers={"Accept-Language": "zh-CN"},
        )
        assert bad.status_code == 422
        assert 'data-testid="error-to"' in bad.text and "不是有效的日期时间" in bad.text
