"""Print runs (labels/runs.py): from a lot, a list of serials, a carton, a commission event;
streamed in chunks with their progress; reprints with a reason in the audit trail; partners
print nothing."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from tests.factories import make_location, make_lot, make_product, make_units, record
from unitrace.access import audit
from unitrace.access.principal import SYSTEM, Actor
from unitrace.core import gs1
from unitrace.core.checkdigits import check_character, has_valid_check
from unitrace.core.errors import Forbidden, NotFound, ValidationError
from unitrace.db.engine import Database
from unitrace.labels import runs
from unitrace.labels.run_schemas import RunIn

GTIN = "09506000134352"


@pytest.fixture(autouse=True)
def labels_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("UNITRACE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _lot_of(db: Database, count: int, lot: str = "L1") -> list[str]:
    make_product(db, "AC1", gtin=GTIN)
    make_lot(db, "AC1", lot, expiry_date=date(2027, 12, 31))
    return make_units(db, "AC1", count, lot=lot)


def _zpl_blocks(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    blocks = re.findall(r"\^XA.*?\^XZ", text, flags=re.S)
    assert text.count("^XA") == text.count("^XZ") == len(blocks)
    return blocks


def test_a_100_label_run_from_a_lot_writes_one_label_per_unit_of_the_lot(
    db: Database, labels_home: Path
) -> None:
    serials = _lot_of(db, 100)
    make_units(db, "AC1", 5)  # not in the lot: not printed
    made = runs.create_run(db, SYSTEM, RunIn(product="AC1", lot="L1", format="zpl"))
    assert (made["status"], made["total"], made["done"]) == ("queued", 100, 0)
    done = runs.execute(db, made["number"])
    assert (done["status"], done["done"], done["percent"]) == ("done", 100, 100)
    path, media, name = runs.run_file(db, SYSTEM, made["number"])
    assert path.is_relative_to(labels_home) and media == "application/zpl"
    assert name == f"{made['number']}.zpl"
    blocks = _zpl_blocks(path)
    assert len(blocks) == 100
    printed = [re.search(r"/21/([^/^?]+)", block).group(1) for block in blocks]  # type: ignore[union-attr]
    assert sorted(printed) == sorted(serials)
    assert all(f"/01/{GTIN}/" in block for block in blocks)


def _decoded_pages(pdf: bytes) -> list[dict[str, list[str]]]:
    """Every page of a PDF rendered at 300 dpi and read by zxing-cpp: texts by symbology."""
    import pypdfium2
    import zxingcpp

    kinds = {"]Q": "qr", "]d": "datamatrix", "]C": "code128"}
    pages = []
    for page in pypdfium2.PdfDocument(pdf):
        image = page.render(scale=300 / 72).to_pil()
        found: dict[str, list[str]] = {"qr": [], "datamatrix": [], "code128": []}
        for code in zxingcpp.read_barcodes(image, text_mode=zxingcpp.TextMode.Plain):
            found[kinds[code.symbology_identifier[:2]]].append(code.text)
        pages.append(found)
    return pages


@pytest.mark.slow
def test_every_label_of_a_100_label_pdf_run_decodes_to_its_units_identifiers(
    db: Database,
) -> None:
    serials = _lot_of(db, 100)
    made = runs.create_run(db, SYSTEM, RunIn(product="AC1", lot="L1", format="pdf"))
    runs.execute(db, made["id"])
    path, media, _ = runs.run_file(db, SYSTEM, made["number"])
    assert media == "application/pdf"
    pages = _decoded_pages(path.read_bytes())
    assert len(pages) == 5  # 3 × 8 a sheet
    matrices = [text for page in pages for text in page["datamatrix"]]
    links = [text for page in pages for text in page["qr"]]
    assert len(matrices) == len(links) == 100
    expiry = date(2027, 12, 31)
    expected = {s: gs1.unit_elements(GTIN, s, "L1", expiry) for s in serials}
    assert sorted(matrices) == sorted(gs1.element_string(e) for e in expected.values())
    assert sorted(links) == sorted(gs1.digital_link(e) for e in expected.values())
    for text in matrices:  # and read back, each names its own unit
        found = gs1.parse(text)
        assert (found.gtin, found.lot, found.expiry) == (GTIN, "L1", expiry)
        assert found.serial in expected


def test_progress_is_reported_after_every_chunk(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _lot_of(db, 25)
    monkeypatch.setattr(runs, "CHUNK", 10)
    seen: list[tuple[int, int]] = []
    stored: list[int] = []
    made = runs.create_run(db, SYSTEM, RunIn(product="AC1", lot="L1", format="zpl"))

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        stored.append(runs.get_run(db, SYSTEM, made["number"])["done"])

    runs.execute(db, made["number"], progress)
    assert seen == [(10, 25), (20, 25), (25, 25), (25, 25)]
    assert stored[:3] == [10, 20, 25]  # the run's row says how far it got, while it prints


def test_serials_print_in_the_order_given_and_unknown_serials_are_refused_all_at_once(
    db: Database,
) -> None:
    serials = _lot_of(db, 5)
    wanted = [serials[3], serials[0], serials[4]]
    made = runs.create_run(db, SYSTEM, RunIn(product="AC1", serials=wanted, format="zpl"))
    runs.execute(db, made["number"])
    blocks = _zpl_blocks(runs.run_file(db, SYSTEM, made["number"])[0])
    assert [next(s for s in serials if f"/21/{s}" in b) for b in blocks] == wanted
    with pytest.raises(NotFound) as refused:
        runs.create_run(db, SYSTEM, RunIn(product="AC1", serials=["NOPE-1", serials[1], "NOPE-2"]))
    assert [(e.field, e.value) for e in refused.value.errors] == [
        ("serials.0", "NOPE-1"),
        ("serials.2", "NOPE-2"),
    ]


def test_a_source_is_exactly_one_thing_and_a_lot_needs_its_product(db: Database) -> None:
    _lot_of(db, 1)
    with pytest.raises(ValidationError) as both:
        runs.create_run(db, SYSTEM, RunIn(product="AC1", lot="L1", container="CTN-1"))
    assert [e.field for e in both.value.errors] == ["source"]
    with pytest.raises(ValidationError) as bare:
        runs.create_run(db, SYSTEM, RunIn(lot="L1"))
    assert [e.field for e in bare.value.errors] == ["product"]


def test_a_pallet_run_prints_the_sscc_labels_of_the_pallet_and_its_cartons(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    serials = _lot_of(db, 4)
    make_location(db)
    record(db, type="receive", product="AC1", serials=serials, location="WH1")
    record(db, type="pack", product="AC1", serials=serials[:2], container="CTN-7")
    record(db, type="pack", product="AC1", serials=serials[2:], container="CTN-8")
    record(
        db, type="pack", containers=["CTN-7", "CTN-8"], container="PAL-1", container_kind="pallet"
    )
    monkeypatch.setenv(runs.COMPANY_PREFIX, "0950600")
    made = runs.create_run(db, SYSTEM, RunIn(container="PAL-1", format="zpl"))
    cartons = made["source"]["cartons"]
    assert [(c["code"], c["kind"]) for c in cartons] == [
        ("PAL-1", "pallet"),
        ("CTN-7", "carton"),
        ("CTN-8", "carton"),
    ]
    assert made["total"] == 3
    for carton in cartons:
        assert len(carton["sscc"]) == 18 and has_valid_check("gs1", carton["sscc"])
        assert carton["sscc"].startswith("00950600")
    assert len({c["sscc"] for c in cartons}) == 3
    runs.execute(db, made["number"])
    blocks = _zpl_blocks(runs.run_file(db, SYSTEM, made["number"])[0])
    assert len(blocks) == 3
    for carton, block in zip(cartons, blocks, strict=True):
        assert f"/00/{carton['sscc']}" in block and carton["code"] in block


def test_an_sscc_container_code_is_the_carton_labels_sscc_and_no_prefix_means_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = "09506000000000001"
    sscc = body + check_character("gs1", body)
    monkeypatch.delenv(runs.COMPANY_PREFIX, raising=False)
    assert runs.sscc_of(sscc, 5) == sscc
    assert runs.sscc_of("CTN-1", 5) is None
    monkeypatch.setenv(runs.COMPANY_PREFIX, "0950600")
    assert runs.sscc_of("CTN-1", 5) == "009506000000000055"[:17] + check_character(
        "gs1", "009506000000000055"[:17]
    )


def test_a_commission_run_prints_every_unit_the_commission_made(db: Database) -> None:
    make_product(db, "AC1", gtin=GTIN)
    make_units(db, "AC1", 3)
    from unitrace.ledger.schemas import CommissionIn
    from unitrace.ledger.service import commission_units

    made_units = commission_units(db, SYSTEM, CommissionIn(product="AC1", count=7))
    event_id = made_units.event_id
    made = runs.create_run(db, SYSTEM, RunIn(commission=event_id, format="zpl"))
    assert made["total"] == 7
    runs.execute(db, made["number"])
    blocks = _zpl_blocks(runs.run_file(db, SYSTEM, made["number"])[0])
    assert sorted(next(s for s in made_units.serials if s in b) for b in blocks) == sorted(
        made_units.serials
    )


def test_a_reprint_needs_a_reason_and_is_in_the_audit_trail(db: Database) -> None:
    serials = _lot_of(db, 3)
    first = runs.create_run(db, SYSTEM, RunIn(product="AC1", serials=serials, format="zpl"))
    runs.execute(db, first["number"])
    with pytest.raises(ValidationError) as bare:
        runs.reprint(db, SYSTEM, first["number"], "  ")
    assert [e.field for e in bare.value.errors] == ["reason"]
    again = runs.reprint(db, SYSTEM, first["number"], "labels smudged on line 2")
    assert again["reprint_of"] == first["number"]
    assert again["reason"] == "labels smudged on line 2"
    assert again["total"] == 3 and again["source"]["kind"] == "serials"
    runs.execute(db, again["number"])
    assert len(_zpl_blocks(runs.run_file(db, SYSTEM, again["number"])[0])) == 3
    records = audit.list_records(db, SYSTEM, entity="label_run")["items"]
    reprinted = [r for r in records if r["action"] == "reprint"]
    assert len(reprinted) == 1 and reprinted[0]["entity_key"] == again["number"]
    assert reprinted[0]["after"]["reason"] == "labels smudged on line 2"
    assert reprinted[0]["after"]["reprint_of"] == first["number"]
    assert {r["action"] for r in records} == {"print", "reprint"}


def test_a_partner_prints_nothing_not_even_its_own_units(db: Database) -> None:
    _lot_of(db, 2)
    partner = Actor("p", "partner", party_id=1)
    with pytest.raises(Forbidden):
        runs.create_run(db, partner, RunIn(product="AC1", lot="L1"))
    made = runs.create_run(db, SYSTEM, RunIn(product="AC1", lot="L1"))
    for call in (
        lambda: runs.get_run(db, partner, made["number"]),
        lambda: runs.run_file(db, partner, made["number"]),
        lambda: runs.reprint(db, partner, made["number"], "why not"),
    ):
        with pytest.raises(Forbidden):
            call()


def test_a_failed_run_records_its_error_and_leaves_no_file(
    db: Database, monkeypatch: pytest.MonkeyPatch, labels_home: Path
) -> None:
    _lot_of(db, 3)
    made = runs.create_run(db, SYSTEM, RunIn(product="AC1", lot="L1", format="zpl"))

    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("printer template broken")

    monkeypatch.setattr(runs, "render_zpl", broken)
    with pytest.raises(RuntimeError):
        runs.execute(db, made["number"])
    failed = runs.get_run(db, SYSTEM, made["number"])
    assert failed["status"] == "failed" and "printer template broken" in failed["error"]
    assert not list((labels_home / "labels").glob("*"))


def test_a_product_without_gtin_prints_a_verification_url_and_no_gs1_symbol(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_product(db, "NOGTIN")
    serials = make_units(db, "NOGTIN", 2)
    monkeypatch.setenv("UNITRACE_PUBLIC_URL", "https://scan.example.com")
    made = runs.create_run(db, SYSTEM, RunIn(product="NOGTIN", serials=serials, format="zpl"))
    runs.execute(db, made["number"])
    blocks = _zpl_blocks(runs.run_file(db, SYSTEM, made["number"])[0])
    for serial, block in zip(serials, blocks, strict=True):
        assert f"https://scan.example.com/units/{serial}" in block
        assert "^BX" not in block  # no GS1 DataMatrix without a GTIN
