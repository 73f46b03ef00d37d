"""Imports of CSV and .xlsx files: units, master data and events, dry run, all or nothing,
repeat detection, saved mappings (interop.imports)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter

from tests.factories import make_location, make_lot, make_party, make_product, record
from unitrace.access.principal import SYSTEM
from unitrace.core.errors import ValidationError
from unitrace.db.engine import Database
from unitrace.interop.imports import service
from unitrace.ledger import queries


def run(db: Database, kind: str, name: str, content: bytes, **kw: Any) -> dict[str, Any]:
    return service.start(db, SYSTEM, kind=kind, filename=name, content=content, wait=True, **kw)


def csv_bytes(lines: list[str], encoding: str = "utf-8") -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet()
    for r, values in enumerate(rows):
        sheet.write_row(r, 0, values)
    book.close()
    return buffer.getvalue()


def units_count(db: Database) -> int:
    from sqlalchemy import func, select

    from unitrace.db.tables import units

    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(units)).scalar_one())


@pytest.fixture
def master(db: Database) -> Database:
    make_product(db, "AC1", rule=None)
    make_product(db, "TV", rule=None)
    make_location(db, "WH1")
    make_lot(db, "AC1", "L1")
    return db


def test_units_csv_in_utf8_imports_every_row(master: Database) -> None:
    job = run(master, "units", "u.csv", csv_bytes(["serial,product,lot", "S1,AC1,L1", "S2,AC1,"]))
    assert (job["status"], job["written"], job["errors"]) == ("done", 2, [])
    assert units_count(master) == 2


def unit_rows(db: Database) -> dict[str, Any]:
    from sqlalchemy import select

    from unitrace.db.tables import units

    with db.read() as conn:
        return {r.serial: r for r in conn.execute(select(units))}


def test_gb18030_csv_with_chinese_headers_imports(master: Database) -> None:
    content = csv_bytes(
        ["序列号,物料编码,批次号,仓库,生产日期", "S1,AC1,L1,WH1,2026/11/24", "S2,AC1,L1,WH1,"],
        "gb18030",
    )
    job = run(master, "units", "单位.csv", content)
    assert (job["status"], job["written"]) == ("done", 2), job
    found = unit_rows(master)
    assert set(found) == {"S1", "S2"} and found["S1"].location_id is not None


def test_utf8_csv_with_bom_reads_its_first_header(master: Database) -> None:
    content = b"\xef\xbb\xbf" + csv_bytes(["SN,产品编码", "S1,AC1"])
    job = run(master, "units", "u.csv", content)
    assert (job["status"], job["written"]) == ("done", 1), job


def test_a_byte_that_is_not_text_later_in_the_file_is_refused_with_its_row(
    master: Database,
) -> None:
    lines = ["serial,product"] + [f"S{n},AC1" for n in range(10_000)]
    content = csv_bytes(lines) + b"S\xff\xfe\xff,AC1\r\n"
    job = run(master, "units", "u.csv", content)
    assert job["status"] == "refused" and "row 10002" in job["message"], job
    assert units_count(master) == 0


def test_dates_in_every_usual_form_are_read(master: Database) -> None:
    rows = [["serial", "product", "生产日期"]]
    for n, when in enumerate(["2026/11/24", "2026-11-24", "24.11.2026", 46350, "2026年11月24日"]):
        rows.append([f"D{n}", "AC1", when])
    rows.append(["BAD", "AC1", "24/11/26x"])
    job = run(master, "units", "d.xlsx", xlsx_bytes(rows), dry_run=True)
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(7, "生产日期")], job
    assert job["errors"][0]["reason"].startswith("bad date")
    job = run(master, "units", "d.xlsx", xlsx_bytes(rows[:-1]))
    assert job["written"] == 5
    from sqlalchemy import select

    from unitrace.db.tables import events

    with master.read() as conn:
        times = {r.event_time.date().isoformat() for r in conn.execute(select(events))}
    assert times == {"2026-11-24"}


BAD_FILE = [
    "serial,product,lot,warehouse,bin,colour",
    "S1,AC1,L1,WH1,,red",
    "S1,AC1,L1,WH1,,red",  # row 3: duplicate in the file
    "S3,NOPE,,,,",  # row 4: unknown product
    "S4,AC1,L9,,,",  # row 5: unknown lot
    "S5,AC1,,WH9,,",  # row 6: unknown location
    "S6,AC1,,,,blue",
]


def test_dry_run_reports_every_bad_row_and_writes_nothing(master: Database) -> None:
    job = run(master, "units", "bad.csv", csv_bytes(BAD_FILE), dry_run=True)
    assert job["status"] == "done" and job["written"] == 0
    assert [(e["row"], e["column"]) for e in job["errors"]] == [
        (3, "serial"),
        (4, "product"),
        (5, "lot"),
        (6, "warehouse"),
    ]
    assert "duplicate serial" in job["errors"][0]["reason"]
    assert units_count(master) == 0
    report = service.report_xlsx(master, SYSTEM, job["id"])
    from python_calamine import CalamineWorkbook

    sheet = CalamineWorkbook.from_path(str(report)).get_sheet_by_index(0).to_python()
    assert sheet[0][-1] == "reason" and [r[0] for r in sheet[1:]] == [3, 4, 5, 6]
    assert "unknown product" in sheet[2][-1]


def test_all_or_nothing_writes_nothing_when_a_row_is_bad(master: Database) -> None:
    job = run(master, "units", "bad.csv", csv_bytes(BAD_FILE))
    assert (job["status"], job["written"], job["error_count"]) == ("failed", 0, 4)
    assert units_count(master) == 0


def test_good_rows_mode_writes_the_good_rows_and_reports_the_rest(master: Database) -> None:
    job = run(master, "units", "bad.csv", csv_bytes(BAD_FILE), mode="good")
    assert (job["status"], job["written"], job["error_count"]) == ("done", 2, 4)
    found = unit_rows(master)
    assert set(found) == {"S1", "S6"}
    assert found["S1"].attributes == {"colour": "red"}  # an unknown column: an attribute


def test_unknown_columns_can_be_ignored(master: Database) -> None:
    job = run(
        master,
        "units",
        "u.csv",
        csv_bytes(["serial,product,colour", "S1,AC1,red"]),
        unknown="ignore",
    )
    assert job["written"] == 1 and unit_rows(master)["S1"].attributes is None


def test_a_serial_that_exists_is_a_bad_row(master: Database) -> None:
    from tests.factories import make_units

    make_units(master, "AC1", None, serials=["OLD1"])
    job = run(master, "units", "u.csv", csv_bytes(["serial,product", "NEW1,AC1", "OLD1,AC1"]))
    assert [(e["row"], e["column"], e["reason"]) for e in job["errors"]] == [
        (3, "serial", "serial exists already")
    ]
    assert job["written"] == 0


def test_a_wrong_check_digit_by_the_products_rule_is_a_bad_row(db: Database) -> None:
    from tests.factories import make_units

    make_product(db, "AC2")  # SN{yy}{mm}-{seq:6}{check:luhn}
    good = make_units(db, "AC2", 1)[0]
    fresh = good[:-7] + "999999"
    right = next(fresh + d for d in "0123456789" if _valid(fresh + d))
    wrong = next(fresh + d for d in "0123456789" if not _valid(fresh + d))
    lines = ["serial,product", f"{right},AC2", f"{wrong},AC2", "MADE-ELSEWHERE,AC2"]
    job = run(db, "units", "u.csv", csv_bytes(lines), dry_run=True)
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(3, "serial")], job
    assert job["errors"][0]["reason"].startswith("bad check digit")


def _valid(serial: str) -> bool:
    from unitrace.core.checkdigits import has_valid_check

    return has_valid_check("luhn", serial)


def test_a_second_import_of_the_same_file_is_answered_repeat(master: Database) -> None:
    content = csv_bytes(["serial,product", "S1,AC1"])
    assert run(master, "units", "u.csv", content)["written"] == 1
    again = run(master, "units", "u.csv", content)
    assert again["status"] == "repeat" and again["written"] == 0
    forced = run(master, "units", "u.csv", content, repeat=True)
    assert forced["status"] == "failed"  # run again: its serial exists now
    assert forced["errors"][0]["reason"] == "serial exists already"


def test_a_saved_mapping_is_used_by_name(master: Database) -> None:
    service.save_mapping(master, SYSTEM, "erp", "units", {"Teil Nr": "serial", "Art": "product"})
    assert service.mappings(master, SYSTEM, "units")[0]["name"] == "erp"
    job = run(master, "units", "u.csv", csv_bytes(["Teil Nr,Art", "S1,AC1"]), mapping_name="erp")
    assert job["written"] == 1, job


def test_a_mapping_naming_no_field_of_the_kind_is_refused_naming_it(master: Database) -> None:
    from unitrace.core.errors import ValidationError

    with pytest.raises(ValidationError) as refused:
        service.save_mapping(master, SYSTEM, "x", "units", {"A": "colour"})
    assert [e.field for e in refused.value.errors] == ["mapping.A"]


def test_a_missing_required_column_is_reported_at_the_header(master: Database) -> None:
    job = run(master, "units", "u.csv", csv_bytes(["product", "AC1"]))
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(1, "serial")]


def test_master_data_kinds_import_products_parties_locations_and_lots(db: Database) -> None:
    from unitrace.catalog import service as catalog

    jobs = [
        run(db, "products", "p.csv", csv_bytes(["物料编码,名称", "P1,Fan", "P2,Pump"])),
        run(
            db, "parties", "c.csv", csv_bytes(["编码,名称,类型,地区", "D1,East,distributor,cn-44"])
        ),
        run(
            db,
            "locations",
            "l.csv",
            csv_bytes(["编码,名称,类型,上级", "W1,Main,warehouse,", "B1,Shelf 1,bin,W1"]),
        ),
        run(db, "lots", "lots.csv", csv_bytes(["产品编码,批次号,生产日期", "P1,L7,2026-11-01"])),
    ]
    assert [j["written"] for j in jobs] == [2, 1, 2, 1], jobs
    assert catalog.get_location(db, SYSTEM, "B1")["parent"] == "W1"
    assert catalog.get_party(db, SYSTEM, "D1")["region"] == "CN-44"
    again = run(db, "products", "p2.csv", csv_bytes(["code,name", "P1,Fan", "P3,"]), dry_run=True)
    assert [(e["row"], e["column"]) for e in again["errors"]] == [(2, "code"), (3, "name")]


def test_a_shipment_list_ships_units_and_reports_a_broken_lifecycle_rule(
    master: Database,
) -> None:
    from tests.factories import make_units

    make_party(master, "D-EAST")
    serials = make_units(master, "AC1", None, serials=["A1", "A2", "A3"])
    record(master, type="receive", product="AC1", serials=serials[:2], location="WH1")
    lines = [
        "序列号,物料编码,经销商,出库日期,出库单号",
        "A1,AC1,D-EAST,,DN1",
        "A2,AC1,D-EAST,,DN1",
        "A3,AC1,D-EAST,,DN1",
    ]
    dry = run(master, "shipments", "s.csv", csv_bytes(lines), dry_run=True)
    assert [(e["row"], e["column"]) for e in dry["errors"]] == [(4, "序列号")], dry
    assert run(master, "shipments", "s.csv", csv_bytes(lines))["written"] == 0
    good = run(master, "shipments", "s.csv", csv_bytes(lines), mode="good", repeat=True)
    assert good["written"] == 2
    assert queries.dossier(master, SYSTEM, "A1")["status"] == "in_transit"


def test_a_component_binding_sheet_assembles_components_into_parents(master: Database) -> None:
    from tests.factories import make_units

    make_units(master, "TV", None, serials=["P1"])
    make_units(master, "AC1", None, serials=["C1", "C2"])
    lines = ["父序列号,子序列号,整机物料编码,部件物料编码", "P1,C1,TV,AC1", "P1,C2,TV,AC1"]
    job = run(master, "bindings", "b.csv", csv_bytes(lines))
    assert (job["status"], job["written"]) == ("done", 2), job
    assert queries.dossier(master, SYSTEM, "C1")["status"] == "installed"


def test_two_imports_of_overlapping_serials_at_once_one_wins_and_none_is_doubled(
    master: Database,
) -> None:
    import threading

    first = csv_bytes(["serial,product"] + [f"X{n}" + ",AC1" for n in range(0, 3000)])
    second = csv_bytes(["serial,product"] + [f"X{n}" + ",AC1" for n in range(2000, 5000)])
    results: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda c=c: results.append(run(master, "units", "c.csv", c)))
        for c in (first, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = sorted(r["written"] for r in results)
    assert written == [0, 3000], results
    assert units_count(master) == 3000


def test_a_workbook_with_a_cell_at_the_far_corner_is_refused_before_it_is_read(
    master: Database,
) -> None:
    from tests.workbooks import text, workbook

    hostile = workbook(
        f'<row r="1">{text("A1", "serial")}</row><row r="1048576">{text("XFD1048576", "x")}</row>'
    )
    job = run(master, "units", "h.xlsx", hostile)
    assert job["status"] == "refused" and "limit" in job["message"], job


def test_a_workbook_declaring_a_huge_dimension_is_refused(master: Database) -> None:
    from tests.workbooks import HEADER, workbook

    job = run(master, "units", "h.xlsx", workbook(HEADER, dimension="A1:XFD1048576"))
    assert job["status"] == "refused", job


def test_kinds_name_their_fields_with_chinese_and_english_headers() -> None:
    units = next(k for k in service.kinds() if k["kind"] == "units")
    serial = next(f for f in units["fields"] if f["name"] == "serial")
    assert "序列号" in serial["headers_zh"] and "sn" in serial["headers_en"] and serial["required"]


def test_the_api_runs_an_import_in_the_background_and_reports_it(api: Any, db: Database) -> None:
    import time

    make_product(db, "AC1", rule=None)
    answer = api.client.post(
        "/api/v1/imports",
        headers=api.admin,
        files={"file": ("u.csv", csv_bytes(["serial,product", "S1,AC1", "S1,AC1"]), "text/csv")},
        data={"kind": "units", "dry_run": "true"},
    )
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]
    for _ in range(200):
        job = api.client.get(f"/api/v1/imports/{job_id}", headers=api.admin).json()
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    assert job["errors"] == [
        {
            "row": 3,
            "column": "serial",
            "reason": "duplicate serial in the file (first in row 2)",
            "reason_key": "duplicate_serial",
            "params": {"row": "2"},
        }
    ]
    report = api.client.get(f"/api/v1/imports/{job_id}/report.xlsx", headers=api.admin)
    assert report.status_code == 200 and report.content.startswith(b"PK")


def test_the_api_names_every_bad_option(api: Any) -> None:
    answer = api.client.post(
        "/api/v1/imports",
        headers=api.admin,
        files={"file": ("u.csv", b"serial\r\n", "text/csv")},
        data={"kind": "nope", "mode": "some", "unknown": "keep"},
    )
    assert answer.status_code == 422
    fields = {e["field"] for e in answer.json()["errors"]}
    assert fields == {"kind", "mode", "unknown"}


def test_the_cli_prints_bad_rows_and_exits_non_zero(
    cli: Any, master: Database, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes(BAD_FILE))
    result = cli("import", str(path), "--kind", "units", "--dry-run")
    assert result.exit_code == 1
    assert "unknown product NOPE" in result.output
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes(["serial,product", "G1,AC1"]))
    result = cli("import", str(good), "--kind", "units")
    assert result.exit_code == 0 and "1 written" in result.output


def test_a_mapping_and_a_saved_mapping_name_together_are_refused_not_the_name_ignored(
    master: Database,
) -> None:
    with pytest.raises(ValidationError) as refused:
        run(
            master,
            "units",
            "u.csv",
            csv_bytes(["serial,product", "S1,AC1"]),
            mapping={"serial": "serial"},
            mapping_name="no such mapping",
        )
    assert [e.field for e in refused.value.errors] == ["mapping_name"]
    assert units_count(master) == 0


def test_a_mapping_nested_deeper_than_the_json_parser_goes_is_named(api: Any) -> None:
    answer = api.client.post(
        "/api/v1/imports",
        headers=api.admin,
        files={"file": ("u.csv", b"serial\r\nS1\r\n", "text/csv")},
        data={"kind": "units", "mapping": "[" * 100_000},
    )
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["mapping"]


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_file_of_only_its_header_is_reported_not_done_with_nothing(
    master: Database, dry_run: bool
) -> None:
    job = run(master, "units", "u.csv", csv_bytes(["serial,product"]), dry_run=dry_run)
    assert job["status"] == ("done" if dry_run else "failed"), job
    assert [(e["row"], e["column"], e["reason_key"]) for e in job["errors"]] == [
        (1, "file", "no_data_rows")
    ]


def test_a_cell_past_the_csv_readers_bound_is_named_as_such_with_its_row(
    master: Database,
) -> None:
    content = b"serial,product\r\nS1,AC1\r\n" + b"A" * 200_000 + b",AC1\r\n"
    job = run(master, "units", "u.csv", content)
    assert job["status"] == "refused", job
    assert "row 3: a cell longer than" in job["message"], job["message"]


def test_the_same_file_sent_again_while_its_first_import_runs_is_answered_repeat(
    master: Database,
) -> None:
    import threading

    content = csv_bytes(["serial,product", "R1,AC1", "R2,AC1"])
    running, release = threading.Event(), threading.Event()

    def hold(_live: dict[str, Any]) -> None:
        running.set()
        release.wait(10)

    first = service.start(
        master, SYSTEM, kind="units", filename="u.csv", content=content, listener=hold
    )
    try:
        assert running.wait(10)
        again = service.start(master, SYSTEM, kind="units", filename="u.csv", content=content)
        assert again["status"] == "repeat", again
    finally:
        release.set()
    for _ in range(200):
        if service.job(master, SYSTEM, first["id"])["status"] not in ("queued", "running"):
            break
        threading.Event().wait(0.05)
    assert service.job(master, SYSTEM, first["id"])["written"] == 2
    assert units_count(master) == 2


def test_a_reason_naming_a_header_that_starts_a_formula_is_text_in_the_report(
    master: Database,
) -> None:
    import zipfile

    content = csv_bytes(["serial,=1+2,product", "S1,S2,AC1"])
    job = run(master, "units", "u.csv", content, mapping={"=1+2": "serial"})
    assert job["errors"][0]["column"] == "=1+2", job
    report = service.report_xlsx(master, SYSTEM, job["id"])
    with zipfile.ZipFile(report) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "'=1+2: a second column for serial" in sheet
