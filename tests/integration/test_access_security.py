"""Logins that do not tell which user names exist, back-off instead of a hard lock, the
password policy, tokens after a password change, and audit anchors against truncation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from tests.factories import FAST_ARGON2, in_stock
from unitrace.access import audit, service
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.core.errors import Unauthorized, UnitraceError, ValidationError
from unitrace.db.engine import Database
from unitrace.db.tables import audit_head, audit_log

PASSWORD = "correct horse battery"


# these tests make hundreds of login attempts: each argon2 check costs little here
pytestmark = pytest.mark.usefixtures("fast_hashing")


class Clock:
    """Stands in for `service._now`: time moves only when the test says so."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(service, "_now", fake)
    return fake


def attempt(db: Database, username: str, password: str, address: str) -> tuple[Any, ...]:
    """What a login answers, as something to compare."""
    try:
        service.login(db, username, password, address)
    except service.Throttled as refused:
        return ("throttled", refused.detail, refused.retry_after, refused.errors)
    except Unauthorized as wrong:
        return ("unauthorized", wrong.detail, wrong.errors)
    return ("ok",)


# --- item 7: login does not tell which user names exist ------------------------------------


def test_unknown_user_wrong_password_and_disabled_user_answer_alike(
    db: Database, clock: Clock
) -> None:
    service.create_user(db, SYSTEM, "clerk", PASSWORD, "warehouse")
    service.create_user(db, SYSTEM, "gone", PASSWORD, "warehouse")
    service.update_user(db, SYSTEM, "gone", active=False)
    answers: dict[str, list[tuple[Any, ...]]] = {"clerk": [], "nobody": [], "gone": []}
    for round_ in range(12):
        for number, name in enumerate(answers):
            answers[name].append(attempt(db, name, "wrong password", f"10.0.0.{number}"))
        clock.advance(round_ % 4)  # sometimes within the refusal window, sometimes after it
    assert answers["clerk"] == answers["nobody"] == answers["gone"]
    kinds = {a[0] for a in answers["clerk"]}
    assert kinds == {"unauthorized", "throttled"}  # well past the old five-failure lock


class CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(**FAST_ARGON2)  # the parameters the users' hashes were made with
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
        self.verified.append(str(hash))
        return super().verify(hash, password)


def test_unknown_and_disabled_users_are_checked_against_a_dummy_hash(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.create_user(db, SYSTEM, "clerk", PASSWORD, "warehouse")
    service.create_user(db, SYSTEM, "gone", PASSWORD, "warehouse")
    service.update_user(db, SYSTEM, "gone", active=False)
    hasher = CountingHasher()
    monkeypatch.setattr(service, "_hasher", hasher)
    for name, address in (("nobody", "10.0.0.1"), ("clerk", "10.0.0.2"), ("gone", "10.0.0.3")):
        with pytest.raises(Unauthorized):
            service.login(db, name, "wrong password", address)
    with pytest.raises(Unauthorized):
        service.check_password(db, "nobody", "wrong password")
    # one argon2 verify per attempt, with the same parameters as a real hash
    assert len(hasher.verified) == 4
    params = {h.rsplit("$", 2)[0] for h in hasher.verified}
    assert len(params) == 1, params


@pytest.fixture
def pages(db: Database) -> Iterator[dict[str, TestClient]]:
    service.create_user(db, SYSTEM, "clerk", PASSWORD, "warehouse")
    application = create_app(db)
    with (
        TestClient(application, client=("10.1.0.1", 5000)) as clerk,
        TestClient(application, client=("10.1.0.2", 5000)) as nobody,
    ):
        yield {"clerk": clerk, "nobody": nobody}


def _post_login(client: TestClient, username: str, password: str) -> tuple[Any, ...]:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    body = answer.text.replace(token.group(1), "CSRF")
    return answer.status_code, body, answer.headers.get("retry-after")


def test_login_page_answers_alike_for_unknown_users(
    pages: dict[str, TestClient], clock: Clock
) -> None:
    seen: dict[str, list[tuple[Any, ...]]] = {"clerk": [], "nobody": []}
    for round_ in range(8):
        for name, client in pages.items():
            seen[name].append(_post_login(client, name, "wrong password"))
        clock.advance(round_ % 3)
    assert seen["clerk"] == seen["nobody"]
    statuses = [s for s, _, _ in seen["clerk"]]
    assert 401 in statuses and 429 in statuses and 403 not in statuses
    refused = next(a for a in seen["clerk"] if a[0] == 429)
    assert refused[2] and int(refused[2]) >= 1 and f"{refused[2]} seconds" in refused[1]
    for _ in range(3):  # until refused again: then the page says so in Chinese too
        pages["nobody"].headers["Accept-Language"] = "zh-CN"
        status, body, retry = _post_login(pages["nobody"], "nobody", "wrong password")
        if status == 429:
            break
    assert status == 429 and f"请 {retry} 秒后再试" in body


# --- item 9: back-off instead of a hard lock, and a way in for an administrator -------------


def test_backoff_doubles_resets_on_success_and_never_locks_for_good(
    db: Database, clock: Clock
) -> None:
    service.create_user(db, SYSTEM, "boss", PASSWORD, "admin")
    free = service.ACCOUNT_BACKOFF.free
    for _ in range(free):
        assert attempt(db, "boss", "wrong password", "10.0.0.1")[0] == "unauthorized"
    windows = []
    for _ in range(6):
        refused = attempt(db, "boss", "wrong password", "10.0.0.1")
        assert refused[0] == "throttled"
        # refused before the password is looked at: the right one is refused the same way
        assert attempt(db, "boss", PASSWORD, "10.0.0.1") == refused
        windows.append(refused[2])
        clock.advance(refused[2])
        assert attempt(db, "boss", "wrong password", "10.0.0.1")[0] == "unauthorized"
    assert windows == [1, 2, 4, 8, 16, 32]
    for _ in range(30):  # grows up to its ceiling, never to a lock
        refused = attempt(db, "boss", "wrong password", "10.0.0.1")
        if refused[0] == "throttled":
            assert refused[2] <= service.ACCOUNT_BACKOFF.longest.total_seconds()
            clock.advance(refused[2])
    clock.advance(service.ACCOUNT_BACKOFF.longest.total_seconds())
    assert attempt(db, "boss", PASSWORD, "10.0.0.1") == ("ok",)
    # the success ended the back-off: the free failures are free again
    for _ in range(free):
        assert attempt(db, "boss", "wrong password", "10.0.0.1")[0] == "unauthorized"


def test_an_address_backs_off_without_locking_out_the_accounts_behind_it(
    db: Database, clock: Clock
) -> None:
    service.create_user(db, SYSTEM, "clerk", PASSWORD, "warehouse")
    office = "192.0.2.7"
    for i in range(service.ADDRESS_BACKOFF.free):  # someone tries many names
        assert attempt(db, f"guess{i}", "wrong password", office)[0] == "unauthorized"
    refused = attempt(db, "clerk", PASSWORD, office)
    assert refused[0] == "throttled" and refused[2] == 1  # a second, not 15 minutes
    assert attempt(db, "clerk", PASSWORD, "198.51.100.1") == ("ok",)  # elsewhere: at once
    clock.advance(1)
    assert attempt(db, "clerk", PASSWORD, office) == ("ok",)  # and the office's run ends
    assert attempt(db, "guess0", "wrong password", office)[0] == "unauthorized"


def test_old_failures_are_forgotten(db: Database, clock: Clock) -> None:
    for _ in range(service.ACCOUNT_BACKOFF.free + 5):
        attempt(db, "nobody", "wrong password", "10.0.0.1")
        clock.advance(1)
    clock.advance(service.FORGET_FAILURES.total_seconds() + 1)
    for i in range(service.ACCOUNT_BACKOFF.free):
        assert attempt(db, "nobody", "wrong password", "10.0.0.1")[0] == "unauthorized", i
    # a new name's first failure drops the rows nobody failed with for a day
    with db.read() as conn:
        from unitrace.db.tables import login_failures

        assert len(conn.execute(login_failures.select()).all()) == 2


def test_simultaneous_failures_for_a_new_name_all_count(db: Database) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from unitrace.db.tables import login_failures

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: attempt(db, "nobody", "x", f"10.0.1.{i}"), range(8)))
    assert {a[0] for a in answers} <= {"unauthorized", "throttled"}  # never a clash (500)
    with db.read() as conn:
        counted = conn.execute(
            select(login_failures.c.failures).where(
                login_failures.c.address == service._account_key("nobody")
            )
        ).scalar_one()
    assert counted == sum(a[0] == "unauthorized" for a in answers)


def test_administrator_unlocks_a_user_or_an_address_audited(
    db: Database, clock: Clock, cli
) -> None:  # type: ignore[no-untyped-def]
    service.create_user(db, SYSTEM, "boss", PASSWORD, "admin")
    failures = 0
    while failures < service.ACCOUNT_BACKOFF.free + 8:
        answer = attempt(db, "boss", "wrong password", f"10.0.0.{failures}")
        failures += answer[0] == "unauthorized"
        clock.advance(answer[2] if answer[0] == "throttled" else 0)
    assert attempt(db, "boss", PASSWORD, "10.9.0.1")[0] == "throttled"
    listed = [u for u in service.list_users(db, SYSTEM) if u["username"] == "boss"][0]
    assert listed["refused_until"] and listed["failed_logins"] == 11
    out = cli("user", "unlock", "boss")
    assert out.exit_code == 0 and "11 failed logins forgotten" in out.output
    assert attempt(db, "boss", PASSWORD, "10.9.0.1") == ("ok",)
    record = audit.list_records(db, SYSTEM, entity="user", entity_key="boss")["items"][0]
    assert record["action"] == "unlock" and record["before"] == {"failed_logins": 11}

    for i in range(service.ADDRESS_BACKOFF.free + 2):
        attempt(db, f"guess{i}", "wrong password", "203.0.113.5")
    assert attempt(db, "boss", PASSWORD, "203.0.113.5")[0] == "throttled"
    out = cli("user", "unlock", "--address", "203.0.113.5")
    assert out.exit_code == 0, out.output
    assert attempt(db, "boss", PASSWORD, "203.0.113.5") == ("ok",)
    assert audit.list_records(db, SYSTEM, entity="address")["items"][0]["action"] == "unlock"
    assert cli("user", "unlock").exit_code == 2
    assert cli("user", "unlock", "no-such-user").exit_code != 0
    assert audit.verify_chain(db, SYSTEM).ok


# --- item 11: password policy everywhere a password is set ----------------------------------

WEAK = ["aaaaaaaaaa", " " * 10, "\0" * 10, "1234567890", "password123", "li.lei.wang"]


def test_policy_applies_to_create_change_reset_and_cli(db: Database, cli) -> None:  # type: ignore[no-untyped-def]
    for weak in WEAK:
        with pytest.raises(ValidationError) as refused:
            service.create_user(db, SYSTEM, "li.lei.wang", weak, "sales")
        assert refused.value.errors[0].field == "password", weak
    service.create_user(db, SYSTEM, "li.lei.wang", PASSWORD, "admin")
    me = service.check_password(db, "li.lei.wang", PASSWORD)
    for actor in (me, SYSTEM):  # their own change, an administrator's reset
        with pytest.raises(ValidationError) as refused:
            service.update_user(db, actor, "li.lei.wang", password="Li.Lei.Wang!!")
        assert refused.value.errors[0].field == "password"
        assert "user name" in refused.value.errors[0].message
    weak_cli = cli("user", "create", "han.mei", input="1234567890\n")
    assert weak_cli.exit_code == 2 and "password" in weak_cli.output
    assert "sequence" in weak_cli.output
    reset = cli("user", "set", "li.lei.wang", "--password", input="qwertyuiop\n")
    assert reset.exit_code == 2 and "too common" in reset.output
    assert service.check_password(db, "li.lei.wang", PASSWORD)


def test_api_and_page_name_the_field_and_reason(db: Database) -> None:
    service.create_user(db, SYSTEM, "boss", PASSWORD, "admin")
    token = service.create_token(db, SYSTEM, "boss", "t")["token"]
    with TestClient(create_app(db)) as client:
        answer = client.post(
            "/api/v1/users",
            json={"username": "han.mei", "password": "han.mei.2026", "role": "sales"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["field"] == "password"
        assert "user name" in answer.json()["errors"][0]["message"]
        for lang, wanted in (("en", "must not be one character repeated"),
                             ("zh-CN", "不能是同一个字符的重复")):  # fmt: skip
            page = client.get("/login", headers={"Accept-Language": lang})
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf
            client.post("/login", data={"username": "boss", "password": PASSWORD,
                                        "csrf_token": csrf.group(1)})  # fmt: skip
            service.set_locale(db, service.check_password(db, "boss", PASSWORD), lang)
            form = client.get("/admin/users")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert csrf
            made = client.post("/admin/users", data={
                "csrf_token": csrf.group(1), "username": "han.mei", "password": "x" * 12,
                "role": "sales"})  # fmt: skip
            assert made.status_code == 422
            shown = re.search(r'data-testid="error-password">([^<]+)<', made.text)
            assert shown and shown.group(1) == wanted


# --- item 12: tokens and the audit record of a password change ------------------------------


def test_admin_reset_revokes_tokens_at_once_even_when_cached(db: Database) -> None:
    service.create_user(db, SYSTEM, "erp", PASSWORD, "warehouse")
    tokens = [service.create_token(db, SYSTEM, "erp", f"t{i}")["token"] for i in range(2)]
    for token in tokens:
        assert service.authenticate(db, token).username == "erp"  # now cached for 2 s
        assert service.cached_actor(db, token) is not None
    changed = service.update_user(db, SYSTEM, "erp", password="a brand new passphrase")
    assert changed["tokens_revoked"] == 2
    for token in tokens:
        assert service.cached_actor(db, token) is None
        with pytest.raises(Unauthorized):
            service.authenticate(db, token)
    revoked = [t for t in service.list_tokens(db, SYSTEM, "erp") if t["revoked_at"]]
    assert len(revoked) == 2


def test_own_password_change_offers_to_revoke_tokens(db: Database) -> None:
    service.create_user(db, SYSTEM, "boss", PASSWORD, "admin")
    me = service.check_password(db, "boss", PASSWORD)
    kept = service.create_token(db, SYSTEM, "boss", "kept")["token"]
    service.update_user(db, me, "boss", password="another good passphrase")
    assert service.authenticate(db, kept).username == "boss"
    me = service.check_password(db, "boss", "another good passphrase")
    changed = service.update_user(db, me, "boss", password="yet another passphrase",
                                  revoke_tokens=True)  # fmt: skip
    assert changed["tokens_revoked"] == 1
    with pytest.raises(Unauthorized):
        service.authenticate(db, kept)


def test_password_change_is_audited_as_changed_never_as_its_hash(db: Database) -> None:
    service.create_user(db, SYSTEM, "erp", PASSWORD, "warehouse")
    service.update_user(db, SYSTEM, "erp", password="a brand new passphrase")
    record = audit.list_records(db, SYSTEM, entity="user", entity_key="erp")["items"][0]
    assert record["action"] == "update" and record["before"] != record["after"]
    assert record["after"]["password"] == "changed" and "password" not in record["before"]
    assert "argon2" not in json.dumps(record)


def test_api_and_page_revoke_tokens_on_password_change(db: Database) -> None:
    service.create_user(db, SYSTEM, "boss", PASSWORD, "admin")
    api_token = service.create_token(db, SYSTEM, "boss", "api")["token"]
    other = service.create_token(db, SYSTEM, "boss", "other")["token"]
    with TestClient(create_app(db)) as client:
        bearer = {"Authorization": f"Bearer {api_token}"}
        answer = client.patch("/api/v1/users/boss", headers=bearer,
                              json={"password": "another good passphrase",
                                    "revoke_tokens": True})  # fmt: skip
        assert answer.status_code == 200 and answer.json()["tokens_revoked"] == 2
        assert client.get("/api/v1/me", headers=bearer).status_code == 401
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {other}"}
                          ).status_code == 401  # fmt: skip
        # the page: the own account offers a checkbox; another user's reset always revokes
        service.create_user(db, SYSTEM, "clerk", PASSWORD, "warehouse")
        clerk_token = service.create_token(db, SYSTEM, "clerk", "scanner")["token"]
        page = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        client.post("/login", data={"username": "boss", "password": "another good passphrase",
                                    "csrf_token": csrf.group(1)})  # fmt: skip
        own = client.get("/admin/users/boss")
        assert 'name="revoke_tokens"' in own.text
        theirs = client.get("/admin/users/clerk")
        assert 'name="revoke_tokens"' not in theirs.text and "revokes all" in theirs.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', theirs.text)
        assert csrf
        reset = client.post("/admin/users/clerk", data={
            "csrf_token": csrf.group(1), "role": "warehouse", "active": "on",
            "password": "a brand new passphrase"})  # fmt: skip
        assert reset.status_code == 200
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {clerk_token}"}
                          ).status_code == 401  # fmt: skip


def test_a_lookup_racing_a_revocation_is_not_cached(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.create_user(db, SYSTEM, "erp", PASSWORD, "warehouse")
    token = service.create_token(db, SYSTEM, "erp", "t")["token"]
    looked_up = service._lookup_token

    def revoked_meanwhile(db: Database, token_hash: str) -> Any:
        found = looked_up(db, token_hash)  # read before the revocation commits …
        service.revoke_user_tokens(db, SYSTEM, "erp")  # … which clears the cache after it
        return found

    monkeypatch.setattr(service, "_lookup_token", revoked_meanwhile)
    service.authenticate(db, token)
    monkeypatch.setattr(service, "_lookup_token", looked_up)
    assert service.cached_actor(db, token) is None
    with pytest.raises(Unauthorized):
        service.authenticate(db, token)


def test_cli_revokes_all_tokens_of_a_user(db: Database, cli) -> None:  # type: ignore[no-untyped-def]
    service.create_user(db, SYSTEM, "erp", PASSWORD, "warehouse")
    token = service.create_token(db, SYSTEM, "erp", "t")["token"]
    out = cli("token", "revoke", "--user", "erp")
    assert out.exit_code == 0 and "1 tokens of erp revoked" in out.output
    with pytest.raises(Unauthorized):
        service.authenticate(db, token)
    assert cli("token", "revoke").exit_code == 2
    reset = cli("user", "set", "erp", "--password", input="a brand new passphrase\n")
    assert reset.exit_code == 0 and "0 API tokens revoked" in reset.output


# --- item 18: anchors make truncation of the audit chain detectable ---------------------------


def _truncate_newest(db: Database, keep: int) -> None:
    """What someone with write access to the database can do: drop the newest records and
    move the head back to the last one kept."""
    with db.write() as conn:
        kept = conn.execute(audit_log.select().where(audit_log.c.id == keep)).first()
        assert kept is not None
        conn.execute(delete(audit_log).where(audit_log.c.id > keep))
        conn.execute(update(audit_head).values(last_id=keep, last_hash=kept.hash))


def test_anchor_detects_truncation_that_the_chain_alone_cannot(
    db: Database, cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    anchors = tmp_path / "anchors.jsonl"
    empty = cli("audit", "anchor", "--file", str(anchors))
    assert empty.exit_code == 0 and json.loads(empty.stdout)["sequence"] == 0
    in_stock(db, 2)
    first = cli("audit", "anchor", "--file", str(anchors))
    head = json.loads(first.stdout)
    assert head["sequence"] > 3 and re.fullmatch(r"[0-9a-f]{64}", head["hash"]) and head["at"]
    service.create_user(db, SYSTEM, "boss", PASSWORD, "admin")
    second = json.loads(cli("audit", "anchor", "--file", str(anchors)).stdout)
    assert second["sequence"] == head["sequence"] + 1
    assert len(anchors.read_text().splitlines()) == 3
    ok = cli("audit", "verify", "--anchor", str(anchors))
    assert ok.exit_code == 0 and "3 anchors hold" in ok.output, ok.output

    _truncate_newest(db, head["sequence"] - 2)
    assert cli("audit", "verify").exit_code == 0  # the chain alone cannot tell
    assert audit.verify_chain(db, SYSTEM).ok
    broken = cli("audit", "verify", "--anchor", str(anchors))
    assert broken.exit_code == 1
    assert f"records {head['sequence'] - 1} to {second['sequence']} were removed" in broken.output


def test_anchor_detects_a_chain_rewritten_after_truncation(
    db: Database, cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    in_stock(db, 2)
    anchors = tmp_path / "anchors.jsonl"
    head = json.loads(cli("audit", "anchor", "--file", str(anchors)).stdout)
    _truncate_newest(db, head["sequence"] - 1)
    for name in ("a1", "a2", "a3"):  # new records fill the gap again, with other content
        service.create_user(db, SYSTEM, name, PASSWORD, "readonly")
    assert audit.verify_chain(db, SYSTEM).ok
    report = audit.verify_chain(db, SYSTEM, audit.parse_anchors(anchors.read_text()))
    assert report.broken_at == head["sequence"] and "differs from its anchor" in (
        report.problem or ""
    )


def test_bad_anchor_files_and_a_head_that_does_not_match(db: Database, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    in_stock(db, 1)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"sequence": 3}\n')
    out = cli("audit", "verify", "--anchor", str(bad))
    assert out.exit_code == 2 and "line 1 is not an anchor" in out.output
    bad.write_text("# nothing yet\n")
    assert cli("audit", "verify", "--anchor", str(bad)).exit_code == 2
    assert cli("audit", "verify", "--anchor", str(tmp_path / "missing")).exit_code == 2
    with db.write() as conn:
        conn.execute(update(audit_head).values(last_hash="f" * 64))
    with pytest.raises(UnitraceError, match="audit head"):
        audit.current_head(db, SYSTEM)
    assert cli("audit", "anchor").exit_code != 0


def test_auditors_read_the_head_over_the_api(db: Database) -> None:
    in_stock(db, 1)
    service.create_user(db, SYSTEM, "eve", PASSWORD, "auditor")
    service.create_user(db, SYSTEM, "ro", PASSWORD, "readonly")
    auditor = service.create_token(db, SYSTEM, "eve", "t")["token"]
    reader = service.create_token(db, SYSTEM, "ro", "t")["token"]
    with TestClient(create_app(db)) as client:
        head = client.get("/api/v1/audit/head", headers={"Authorization": f"Bearer {auditor}"})
        assert head.status_code == 200
        anchor = audit.Anchor(head.json()["sequence"], head.json()["hash"])
        assert audit.verify_chain(db, SYSTEM, [anchor]).ok
        denied = client.get("/api/v1/audit/head", headers={"Authorization": f"Bearer {reader}"})
        assert denied.status_code == 403
