"""The import page (/imports, issue 17) on the import engine: the dry run's bad rows with row,
column and reason in the user's language, the report, the detected columns changed and saved,
the import (all or nothing, or the good rows), the repeat question, the progress fragment, and
a bad upload refused next to its field."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_location, make_product
from tests.pages import field_error, login
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.db.engine import Database
from unitrace.interop.imports import service
from unitrace.ledger import queries
from unitrace.web import imports as page

ZH = {"Accept-Language": "zh-CN"}
BAD = "序列号,物料编码,生产日期,颜色\nS-1,AC1,2026/11/24,红\nS-2,AC1,2026/13/45,蓝\nS-3,AC1,,白\n"
GOOD = BAD.replace("2026/13/45", "2026-11-24")


@pytest.fixture
def client(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("UNITRACE_HOME", str(tmp_path / "home"))
    make_product(db, "AC1", rule=None)
    make_location(db, "WH1")
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client


def _settled(client: TestClient, answer: Any) -> Any:
    """The job's page once the job has ended (it runs in a thread of the server)."""
    for _ in range(200):
        status = re.search(r'data-testid="import-progress" data-status="(\w+)"', answer.text)
        if status is None or status.group(1) not in ("queued", "running"):
            return answer
        time.sleep(0.05)
        answer = client.get(str(answer.url), headers=ZH)
    raise AssertionError("the import did not end")


def _check(client: TestClient, csrf: str, content: bytes, name: str = "u.csv", **form: str) -> Any:
    answer = client.post(
        "/imports",
        data={"csrf_token": csrf, "kind": "units", **form},
        files={"file": (name, content, "text/csv")},
        headers=ZH,
    )
    return _settled(client, answer)


def _upload_token(html: str) -> str:
    found = re.search(r'name="upload" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


def _bad_rows(html: str) -> list[list[str]]:
    table = re.search(r'data-testid="import-errors">(.*?)</table>', html, re.S)
    assert table, html[:3000]
    rows = re.findall(r"<tr class=\"fail\">(.*?)</tr>", table.group(1), re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in row] for row in cells]


def test_a_dry_run_shows_the_bad_rows_with_row_column_and_reason_in_chinese(
    client: TestClient, db: Database
) -> None:
    csrf = login(client, db, "warehouse", "zh-CN")
    checked = _check(client, csrf, BAD.encode())
    assert checked.status_code == 200, checked.text
    rows = _bad_rows(checked.text)
    assert [r[:2] for r in rows] == [["3", "生产日期"]]
    assert rows[0][2].startswith("日期错误") and "date" not in rows[0][2]
    assert re.search(r"[\u4e00-\u9fff]", rows[0][2])  # the reason, in Chinese
    assert 'data-testid="import-good"' in checked.text  # the good rows: an explicit choice
    assert queries.list_units(db, SYSTEM, product="AC1", limit=10)["items"] == []  # a dry run
    report = re.search(r'href="(/imports/[^"]+/report\.xlsx)"', checked.text)
    assert report
    workbook = client.get(report.group(1), headers=ZH)
    assert workbook.status_code == 200 and workbook.content.startswith(b"PK")
    assert "attachment" in workbook.headers["content-disposition"]


def test_the_detected_columns_are_shown_and_a_changed_mapping_is_saved_and_used(
    client: TestClient, db: Database
) -> None:
    csrf = login(client, db, "warehouse", "zh-CN")
    checked = _check(client, csrf, GOOD.encode())
    assert 'data-testid="import-all-good"' in checked.text
    assert '<option value="serial" selected>序列号</option>' in checked.text  # detected
    form = {
        "csrf_token": csrf,
        "kind": "units",
        "upload": _upload_token(checked.text),
        "header_1": "序列号",
        "field_1": "serial",
        "header_2": "物料编码",
        "field_2": "product",
        "header_3": "生产日期",
        "field_3": "",  # found by its name, set to no field: left out
        "header_4": "颜色",
        "field_4": "",
        "unknown": "ignore",
        "save_as": "仓库A",
    }
    again = _settled(client, client.post("/imports", data=form, headers=ZH))
    assert again.status_code == 200, again.text
    saved = service.mappings(db, SYSTEM, "units")
    assert [(m["name"], m["mapping"]) for m in saved] == [
        ("仓库A", {"序列号": "serial", "物料编码": "product", "生产日期": ""})
    ]
    assert '<option value="production_date" selected>' not in again.text  # as chosen
    assert '<option value="product" selected>' in again.text
    start = client.get("/imports", headers=ZH)
    assert "仓库A" in start.text  # a saved mapping to choose next time
    chosen = _check(client, csrf, GOOD.encode(), mapping_name="仓库A")
    assert chosen.status_code == 200 and 'data-testid="import-all-good"' in chosen.text
    assert '<option value="production_date" selected>' not in chosen.text  # the saved one


def test_uploads_staged_more_than_a_day_ago_are_deleted(client: TestClient, db: Database) -> None:
    import os

    csrf = login(client, db, "warehouse")
    token = _upload_token(_check(client, csrf, GOOD.encode()).text)
    staged = page.staging() / token
    day_ago = staged.stat().st_mtime - page.STAGED_SECONDS - 60
    os.utime(staged, (day_ago, day_ago))
    _check(client, csrf, GOOD.encode())
    assert not staged.exists() and (page.staging() / f"{token}.json").exists()


def test_the_good_rows_are_imported_and_a_second_import_of_the_file_asks_first(
    client: TestClient, db: Database
) -> None:
    csrf = login(client, db, "production", "zh-CN")  # units are commissioned: production's
    checked = _check(client, csrf, BAD.encode())
    run = {"csrf_token": csrf, "upload": _upload_token(checked.text), "mode": "good"}
    done = _settled(client, client.post("/imports/run", data=run, headers=ZH))
    assert 'data-testid="import-done"' in done.text, done.text[-3000:]
    assert "已写入 2 行" in done.text
    serials = {u["serial"] for u in queries.list_units(db, SYSTEM, product="AC1")["items"]}
    assert serials == {"S-1", "S-3"}
    repeat = _settled(client, client.post("/imports/run", data=run, headers=ZH))
    assert 'data-testid="import-repeat-confirm"' in repeat.text
    assert "以前已导入" in repeat.text
    confirmed = _settled(client, client.post("/imports/run", data=run | {"repeat": "1"}))
    assert confirmed.status_code == 200
    assert 'data-testid="import-repeat-confirm"' not in confirmed.text


def test_all_or_nothing_with_a_bad_row_writes_nothing(client: TestClient, db: Database) -> None:
    csrf = login(client, db, "warehouse", "zh-CN")
    checked = _check(client, csrf, BAD.encode())
    run = {"csrf_token": csrf, "upload": _upload_token(checked.text), "mode": "all"}
    refused = _settled(client, client.post("/imports/run", data=run, headers=ZH))
    assert 'data-testid="import-failed"' in refused.text
    assert queries.list_units(db, SYSTEM, product="AC1", limit=10)["items"] == []


def test_the_progress_fragment_polls_while_running_and_reloads_when_done(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    csrf = login(client, db, "warehouse", "zh-CN")
    checked = _check(client, csrf, GOOD.encode())
    url = re.search(r'hx-get="([^"]+)"', checked.text)
    assert url is None  # ended: no polling
    job_id = str(checked.url).split("/imports/")[1].split("?")[0]
    real = service.job

    def running(db: Database, actor: Any, wanted: str) -> dict[str, Any]:
        return real(db, actor, wanted) | {"status": "running", "rows_done": 1, "rows_total": 4}

    monkeypatch.setattr(page.service, "job", running)
    polled = client.get(f"/imports/{job_id}/progress", headers=ZH | {"HX-Request": "true"})
    assert 'hx-trigger="every 1s"' in polled.text and 'value="25"' in polled.text
    assert "1 / 4 行" in polled.text and "HX-Refresh" not in polled.headers
    monkeypatch.setattr(page.service, "job", real)
    ended = client.get(f"/imports/{job_id}/progress", headers=ZH | {"HX-Request": "true"})
    assert "hx-trigger" not in ended.text and ended.headers["HX-Refresh"] == "true"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [("u.csv", b"", "文件是空的"), ("u.pdf", b"%PDF-1.4", "不是表格")],
)
def test_a_bad_upload_is_refused_next_to_the_file_field(
    client: TestClient, db: Database, name: str, content: bytes, expected: str
) -> None:
    csrf = login(client, db, "warehouse", "zh-CN")
    answer = client.post(
        "/imports",
        data={"csrf_token": csrf, "kind": "units"},
        files={"file": (name, content, "text/csv")},
        headers=ZH,
    )
    assert answer.status_code == 422
    assert expected in field_error(answer.text, "file")


def test_a_file_over_the_byte_limit_is_refused_next_to_the_file_field(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNITRACE_IMPORT_MAX_BYTES", "100")
    csrf = login(client, db, "warehouse", "zh-CN")
    answer = client.post(
        "/imports",
        data={"csrf_token": csrf, "kind": "units"},
        files={"file": ("u.csv", GOOD.encode() * 10, "text/csv")},
        headers=ZH,
    )
    assert answer.status_code == 413
    assert "100" in field_error(answer.text, "file")
    assert "bytes" not in answer.text
    assert "UNITRACE_IMPORT_MAX_BYTES" in answer.text


def test_a_workbook_that_is_no_workbook_is_reported_in_chinese(
    client: TestClient, db: Database
) -> None:
    csrf = login(client, db, "warehouse", "zh-CN")
    checked = _check(client, csrf, b"this is not a zip file", "u.xlsx")
    assert checked.status_code in (200, 422), checked.text
    shown = re.sub(r"<code>.*?</code>", "", checked.text, flags=re.S)
    assert 'role="alert"' in shown and "zip" not in shown.lower().replace("gzip", "")


def test_a_role_without_import_run_gets_403_and_the_form_needs_its_token(
    client: TestClient, db: Database
) -> None:
    csrf = login(client, db, "sales")
    assert client.get("/imports").status_code == 403
    forbidden = client.post(
        "/imports", data={"csrf_token": csrf, "kind": "units"}, files={"file": ("u.csv", b"a")}
    )
    assert forbidden.status_code == 403
    assert client.get("/imports/1").status_code == 403
    login(client, db, "warehouse")
    expired = client.post(
        "/imports", data={"csrf_token": "wrong", "kind": "units"}, files={"file": ("u.csv", b"a")}
    )
    assert expired.status_code == 400 and 'data-testid="form-error"' in expired.text


def test_another_users_upload_is_not_theirs_to_import(client: TestClient, db: Database) -> None:
    csrf = login(client, db, "warehouse")
    token = _upload_token(_check(client, csrf, GOOD.encode()).text)
    csrf = login(client, db, "production")
    refused = client.post("/imports/run", data={"csrf_token": csrf, "upload": token, "mode": "all"})
    assert refused.status_code == 404
    assert queries.list_units(db, SYSTEM, product="AC1", limit=10)["items"] == []


def test_a_role_that_may_not_write_the_rows_is_told_so_in_chinese(
    client: TestClient, db: Database
) -> None:
    csrf = login(client, db, "warehouse", "zh-CN")  # import.run, but no event:commission
    checked = _check(client, csrf, GOOD.encode())
    run = {"csrf_token": csrf, "upload": _upload_token(checked.text), "mode": "all"}
    refused = _settled(client, client.post("/imports/run", data=run, headers=ZH))
    failed = re.search(r'data-testid="import-failed">([^<]+)<', refused.text)
    assert failed and "无权记录“赋码”事件" in failed.group(1), refused.text[-2000:]
    assert not re.search(r"[a-z]{4,}", failed.group(1).replace("u-warehouse", ""))
    assert queries.list_units(db, SYSTEM, product="AC1", limit=10)["items"] == []
