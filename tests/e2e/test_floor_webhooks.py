"""Webhooks on the floor (issue 17): an administrator adds a subscription on the page (in
Chinese), sees the delivery of an event in the log with its attempt, and sends it again."""

from __future__ import annotations

import json

import pytest

from tests.e2e.floor import Floor
from tests.webhook_receiver import receiver, verified
from unitrace.access.principal import SYSTEM
from unitrace.db.engine import Database
from unitrace.interop.webhooks import worker
from unitrace.ledger import service as ledger
from unitrace.ledger.schemas import CommissionIn

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_admin_subscribes_sees_the_delivery_and_sends_it_again(floor: Floor) -> None:
    assert floor.database is not None
    db = Database(f"sqlite:///{floor.database}")
    try:
        with receiver() as hook:
            page = floor.open("admin", "/webhooks")
            floor.allow_words(page, "hook")
            form = page.locator('[data-testid="subscription-form"]')
            form.locator('[data-testid="name"]').fill("仓储系统")
            form.locator('[data-testid="url"]').fill(hook.url)
            form.locator('[data-testid="event-commission"]').check()
            form.locator('[data-testid="alert-diversion"]').check()
            form.locator('[data-testid="add"]').click()
            secret = page.locator('[data-testid="secret"]').inner_text()
            assert secret.startswith("whsec_")
            assert "签名密钥" in page.locator('[data-testid="secret-shown"]').inner_text()
            rows = page.locator('[data-testid="subscription-table"] tbody tr')
            assert "仓储系统" in rows.last.inner_text()

            made = ledger.commission_units(db, SYSTEM, CommissionIn(product="AC-9000", count=2))
            assert worker.work_once(db, worker.Settings(timeout=5.0)) == 1
            assert len(hook.got) == 1 and verified(secret, hook.got[0])
            event = json.loads(hook.got[0].body)["event"]
            assert sorted(u["serial"] for u in event["units"]) == sorted(made.serials)

            page.goto(floor.url("/webhooks"))
            delivery = hook.got[0].headers["X-Unitrace-Delivery"]
            status = page.locator(f'[data-testid="delivery-status-{delivery}"]')
            assert status.inner_text().strip() == "已送达"
            page.locator(f'[data-testid="attempts-{delivery}"] summary').click()
            assert "HTTP 204" in page.locator(f'[data-testid="attempts-{delivery}"]').inner_text()
            page.locator(f'[data-testid="replay-{delivery}"]').click()
            page.wait_for_url("**/webhooks?replayed=*")
            assert status.inner_text().startswith("待推送")
            assert worker.work_once(db, worker.Settings(timeout=5.0)) == 1
            assert [r.headers["X-Unitrace-Delivery"] for r in hook.got] == [delivery] * 2
            floor.check(page)
    finally:
        db.dispose()
