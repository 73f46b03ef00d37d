"""The import page (/imports, issue 17) with a fake engine: the page's forms, the bad rows of
the dry run in the user's language, the report, the import's choice, the repeat question, the
progress fragment, and the errors shown next to their fields."""

from __future__ import annotations

import csv
import io
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.pages import field_error, login
from unitrace.core.errors import invalid
from unitrace.db.engine import Database

ZH = {"Accept-Language": "zh-CN"}


class FakeEngine:
    """`interop.imports.service` as the page calls it: units with a serial and a product; a
    row without a serial is bad; a file imported before is a repeat."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.calls: list[dict[str, Any]] = []
        self.imported: set[bytes] = set()
        self.saved: dict[str, dict[str, str]] = {}

    def headers(self, path: Path) -> list[str]:
        text = path.read_bytes().decode("utf-8-sig")
        return next(csv.reader(io.StringIO(text)), []) if "," in text else []

    def detected(self, kind: str, headers: list[str]) -> dict[str, str]:
        return {h: {"序列号": "serial", "产品编码": "product"}.get(h, "") for h in headers}

    def kinds(self) -> list[dict[str, Any]]:
        fields = [
            {"name": "serial", "headers_zh": ["序列号"], "headers_en": ["serial"], "required": 1},
            {"name": "product", "headers_zh": ["产品编码"], "headers_en": ["product"]},
        ]
        return [{"kind": "units", "fields": fields}]

    def mappings(self, db: Any, actor: Any, kind: str) -> list[dict[str, Any]]:
        return [{"name": n, "mapping": m} for n, m in self.saved.items()]

    def save_mapping(self, db: Any, actor: Any, name: str, kind: str, mapping: Any) -> None:
        self.saved[name] = mapping

    def start(self, db: Any, actor: Any, **given: Any) -> dict[str, Any]:
        self.calls.append(given)
        content = Path(given["content"]).read_bytes()
        text = content.decode("utf-8-sig")
        if "," not in text:
            raise invalid("file", "the file is not a table: upload an .xlsx or .csv file")
        rows = list(csv.reader(io.StringIO(text)))
        header, body = rows[0], rows[1:]
        mapping = given["mapping"] or {h: {"序列号": "serial", "产品编码": "product"}.get(h, "")
                                       for h in header}  # fmt: skip
        serial = next(h for h, f in mapping.items() if f == "serial")
        errors = [
            {"row": i + 2, "column": serial, "reason": "required"}
            for i, row in enumerate(body)
            if not row[header.index(serial)].strip()
        ]
        job_id = str(len(self.jobs) + 1)
        status = "done"
        if not given["dry_run"] and content in self.imported and not given["repeat"]:
            status = "repeat"
        elif not given["dry_run"]:
            self.imported.add(content)
        good = len(body) - len(errors)
        self.jobs[job_id] = {
            "id": job_id,
            "status": status,
            "dry_run": given["dry_run"],
            "mode": given["mode"],
            "rows_total": len(body),
            "rows_done": len(body),
            "written": 0 if given["dry_run"] or status == "repeat" else good,
            "errors": errors,
            "error_count": len(errors),
            "mapping": mapping,
        }
        return self.jobs[job_id]

    def job(self, db: Any, actor: Any, job_id: str) -> dict[str, Any]:
        if job_id not in self.jobs:
            from unitrace.core.errors import NotFound

            raise NotFound(f"no import job {job_id!r}", [])
        return self.jobs[job_id]

    def report_xlsx(self, db: Any, actor: Any, job_id: str) -> bytes:
        return b"PK fake workbook " + job_id.encode()


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine()
    try:
        import unitrace.interop.imports.service  # noqa: F401
    except ModuleNotFoundError:  # the engine's branch not merged yet
        package = types.ModuleType("unitrace.interop.imports")
        module = types.ModuleType("unitrace.interop.imports.service")
        package.service = module  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "unitrace.interop.imports", package)
        monkeypatch.setitem(sys.modules, "unitrace.interop.imports.service", module)
    from unitrace.web import imports as page

    monkeypatch.setattr(page, "service", fake)
    monkeypatch.setattr(page, "headers_of", lambda path, name: fake.headers(Path(path)))
    monkeypatch.setattr(page, "detected", fake.detected)
    return fake


@pytest.fixture
def client(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: FakeEngine
) -> Iterator[TestClient]:
    from unitrace.api.app import create_app

    monkeypatch.setenv("UNITRACE_HOME", str(tmp_path / "home"))
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client


BAD = "序列号,产品编码,颜色\nSN-1,AC1,红\n,AC1,蓝\nSN-3,AC1,白\n".encode()
GOOD = "序列号,产品编码,颜色\nSN-1,AC1,红\nSN-2,AC1,蓝\nSN-3,AC1,白\n".encode()


def _check(
    client: TestClient, csrf: str, content: bytes, name: str = "units.csv", **form: str
) -> Any:
    return client.post(
        "/imports",
        data={"csrf_token": csrf, "kind": "units", **form},
        files={"file": (name, content, "text/csv")},
        headers=ZH,
    )


def test_a_dry_run_shows_the_bad_rows_with_row_column_and_reason_in_chinese(
    client: TestClient, db: Database, engine: FakeEngine
) -> None:
    csrf = login(client, db, "warehouse", "zh-CN")
    page = _check(client, csrf, BAD)
    assert page.status_code == 200, page.text
    assert engine.calls[0]["dry_run"] is True and engine.calls[0]["kind"] == "units"
    table = re.search(r'data-testid="import-errors">(.*?)</table>', page.text, re.S)
    assert table
    cells = re.findall(r"<td[^>]*>(.*?)</td>", table.group(1), re.S)
    assert [re.sub(r"<[^>]+>", "", c).strip() for c in cells] == ["3", "序列号", "必填"]
    assert 'href="/imports/1/report.xlsx"' in page.text
    assert 'data-testid="import-good"' in page.text  # the good rows, chosen explicitly
    report = client.get("/imports/1/report.xlsx", headers=ZH)
    assert report.status_code == 200 and report.content.startswith(b"PK")
    assert "attachment" in report.headers["content-disposition"]


def test_the_detected_columns_can_be_changed_and_the_file_is_checked_again(
    client: TestClient, db: Database, engine: FakeEngine
) -> None:
    csrf = login(client, db, "warehouse", "zh-CN")
    page = _check(client, csrf, GOOD)
    upload = re.search(r'name="upload" value="([^"]+)"', page.text)
    assert upload and "产品编码" in page.text and 'data-testid="import-all-good"' in page.text
    again = client.post(
        "/imports",
        data={
            "csrf_token": csrf,
            "kind": "units",
            "upload": upload.group(1),
            "header_1": "序列号",
            "field_1": "serial",
            "header_2": "产品编码",
            "field_2": "",
            "header_3": "颜色",
            "field_3": "",
            "unknown": "ignore",
            "save_as": "仓库A",
        },
        headers=ZH,
    )
    assert again.status_code == 200, again.text
    # 产品编码, found by its name, was set to no field: left out ("")
    assert engine.calls[-1]["mapping"] == {"序列号": "serial", "产品编码": ""}
    assert engine.calls[-1]["unknown"] == "ignore"
    assert engine.saved == {"仓库A": {"序列号": "serial", "产品编码": ""}}
    shown = client.get(again.url, headers=ZH).text
    assert '<option value="serial" selected>序列号</option>' in shown  # as chosen


def test_import_runs_after_the_dry_run_and_a_second_import_of_the_file_asks_first(
    client: TestClient, db: Database, engine: FakeEngine
) -> None:
    csrf = login(client, db, "warehouse", "zh-CN")
    page = _check(client, csrf, GOOD)
    upload = re.search(r'name="upload" value="([^"]+)"', page.text)
    assert upload
    run = {"csrf_token": csrf, "upload": upload.group(1), "mode": "all"}
    done = client.post("/imports/run", data=run, headers=ZH)
    assert done.status_code == 200 and 'data-testid="import-done"' in done.text
    assert engine.calls[-1]["dry_run"] is False and engine.calls[-1]["mode"] == "all"
    assert "已写入 3 行" in done.text
    repeat = client.post("/imports/run", data=run, headers=ZH)
    assert 'data-testid="import-repeat-confirm"' in repeat.text
    assert engine.jobs[str(len(engine.jobs))]["written"] == 0
    confirmed = client.post("/imports/run", data=run | {"repeat": "1"}, headers=ZH)
    assert 'data-testid="import-done"' in confirmed.text and engine.calls[-1]["repeat"] is True


def test_the_progress_fragment_polls_while_running_and_reloads_when_done(
    client: TestClient, db: Database, engine: FakeEngine
) -> None:
    csrf = login(client, db, "warehouse", "zh-CN")
    _check(client, csrf, GOOD)
    engine.jobs["1"].update(status="running", rows_done=1, rows_total=4)
    running = client.get("/imports/1/progress", headers=ZH | {"HX-Request": "true"})
    assert 'hx-trigger="every 1s"' in running.text and 'value="25"' in running.text
    assert "1 / 4" in running.text or "第 1" in running.text or "1" in running.text
    assert "HX-Refresh" not in running.headers
    engine.jobs["1"].update(status="done", rows_done=4)
    done = client.get("/imports/1/progress", headers=ZH | {"HX-Request": "true"})
    assert "hx-trigger" not in done.text and done.headers["HX-Refresh"] == "true"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [("units.csv", b"", "文件是空的"), ("units.pdf", b"%PDF-1.4", "不是表格")],
)
def test_a_bad_upload_is_refused_next_to_the_file_field(
    client: TestClient, db: Database, name: str, content: bytes, expected: str
) -> None:
    csrf = login(client, db, "warehouse", "zh-CN")
    page = _check(client, csrf, content, name)
    assert page.status_code == 422
    assert expected in field_error(page.text, "file")


def test_a_file_that_is_no_table_is_refused_next_to_the_file_field(
    client: TestClient, db: Database
) -> None:
    csrf = login(client, db, "warehouse", "zh-CN")
    page = _check(client, csrf, "只是一段文字\n".encode())
    assert page.status_code == 422
    assert field_error(page.text, "file")
    assert "not a table" not in page.text


def test_a_role_without_import_run_gets_403_and_the_form_needs_its_token(
    client: TestClient, db: Database
) -> None:
    csrf = login(client, db, "sales")
    assert client.get("/imports").status_code == 403
    assert _check(client, csrf, GOOD).status_code == 403
    assert client.get("/imports/1").status_code == 403
    csrf = login(client, db, "warehouse")
    expired = _check(client, "wrong", GOOD)
    assert expired.status_code == 400 and 'data-testid="form-error"' in expired.text


def test_another_users_upload_token_is_not_found(
    client: TestClient, db: Database, engine: FakeEngine
) -> None:
    csrf = login(client, db, "warehouse")
    page = _check(client, csrf, GOOD)
    upload = re.search(r'name="upload" value="([^"]+)"', page.text)
    assert upload
    csrf = login(client, db, "production")
    run = {"csrf_token": csrf, "upload": upload.group(1), "mode": "all"}
    refused = client.post("/imports/run", data=run)
    assert refused.status_code == 404 and len(engine.calls) == 1
