"""Master-data pages: parties (authorised regions by name), locations (a tree, a bin added under
a warehouse), a product's bill of materials and route — each saved through its use case, errors
next to the field in the page's language, nothing written on a refused form, forms only for
the roles that may change the data."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_location, make_party, make_product
from tests.pages import field_error, login
from unitrace.access import audit
from unitrace.access.principal import SYSTEM
from unitrace.catalog import service as catalog
from unitrace.catalog.schemas import LocationCreate
from unitrace.db.engine import Database
from unitrace.production import service as production
from unitrace.production.schemas import BomIn, BomLineIn, RouteIn, StepDefIn


@pytest.fixture
def app_client(db: Database) -> Iterator[TestClient]:
    from unitrace.api.app import create_app

    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client


def _in_chinese(client: TestClient, db: Database) -> str:
    """Log in as an administrator whose pages are in Simplified Chinese."""
    client.headers["Accept-Language"] = "zh-CN"
    return login(client, db, "admin", "zh-CN")


def test_admin_creates_a_party_and_changes_its_authorised_regions(
    app_client: TestClient, db: Database
) -> None:
    csrf = _in_chinese(app_client, db)
    made = app_client.post(
        "/parties",
        data={"csrf_token": csrf, "code": "D-NORTH", "name": "华北经销", "kind": "distributor",
              "authorised_regions": ["CN-11", "CN-12"], "contact": "李经理 010-8888"},
        follow_redirects=False,
    )  # fmt: skip
    assert made.status_code == 303 and made.headers["location"] == "/parties/D-NORTH?saved=1"
    page = app_client.get("/parties/D-NORTH")
    assert "北京" in page.text and "天津" in page.text  # region names, not only codes
    assert re.search(r'value="CN-11" checked', page.text)

    changed = app_client.post(
        "/parties/D-NORTH",
        data={"csrf_token": csrf, "name": "华北经销", "kind": "distributor",
              "authorised_regions": ["CN-11", "CN-13"], "other_regions": "CN-4401",
              "contact": "李经理"},
    )  # fmt: skip
    assert changed.status_code == 200 and 'data-testid="saved"' in changed.text
    party = catalog.get_party(db, SYSTEM, "D-NORTH")
    assert party["authorised_regions"] == ["CN-11", "CN-13", "CN-4401"]
    assert party["contact"] == "李经理"
    records = audit.list_records(db, SYSTEM, entity="party", entity_key="D-NORTH")["items"]
    assert [r["action"] for r in records] == ["update", "create"]
    listed = app_client.get("/parties?q=north")
    assert "北京" in listed.text and "河北" in listed.text and "经销商" in listed.text


def test_a_refused_party_form_names_every_field_in_chinese_and_writes_nothing(
    app_client: TestClient, db: Database
) -> None:
    make_party(db, "CUST-1", "customer")
    csrf = _in_chinese(app_client, db)
    bad = app_client.post(
        "/parties/CUST-1",
        data={"csrf_token": csrf, "name": "", "kind": "customer",
              "authorised_regions": ["CN-31"], "other_regions": "shanghai"},
    )  # fmt: skip
    assert bad.status_code == 422
    assert field_error(bad.text, "name") == "不能清空"
    assert "地区代码" in field_error(bad.text, "authorised_regions")
    banner = re.search(r'data-testid="form-error">([^<]+)<', bad.text)
    assert banner and not re.search(r"[A-Za-z]{3,}", banner.group(1)), banner
    assert catalog.get_party(db, SYSTEM, "CUST-1")["authorised_regions"] == []

    regions = app_client.post(
        "/parties/CUST-1",
        data={"csrf_token": csrf, "name": "客户", "kind": "customer",
              "authorised_regions": ["CN-31"]},
    )  # fmt: skip
    assert regions.status_code == 422
    assert field_error(regions.text, "authorised_regions") == "只有经销商和零售商才有授权区域"
    dup = app_client.post(
        "/parties", data={"csrf_token": csrf, "code": "CUST-1", "name": "x", "kind": "customer"}
    )
    assert dup.status_code == 409 and field_error(dup.text, "code") == "已存在"


def test_locations_show_as_a_tree_and_a_bin_is_added_under_a_warehouse(
    app_client: TestClient, db: Database
) -> None:
    make_location(db, "SITE-A", kind="site")
    wh = LocationCreate(code="WH-A", name="成品仓", kind="warehouse", parent="SITE-A")
    catalog.create_location(db, SYSTEM, wh)
    csrf = _in_chinese(app_client, db)
    form = app_client.get("/locations?parent=WH-A")
    assert re.search(r'<option value="WH-A" selected', form.text)  # the parent is chosen
    assert re.search(r'<option value="bin" selected', form.text)  # a bin is offered
    made = app_client.post(
        "/locations",
        data={"csrf_token": csrf, "parent": "WH-A", "kind": "bin", "code": "BIN-A1",
              "name": "一号货位", "region": ""},
        follow_redirects=False,
    )  # fmt: skip
    assert made.status_code == 303
    assert catalog.get_location(db, SYSTEM, "BIN-A1")["parent"] == "WH-A"
    tree = app_client.get("/locations")
    depths = dict(re.findall(r'data-testid="location-([^"]+)" data-depth="(\d)"', tree.text))
    assert depths == {"SITE-A": "0", "WH-A": "1", "BIN-A1": "2"}
    rows = re.findall(r'data-testid="location-([^"]+)"', tree.text)
    assert rows.index("WH-A") < rows.index("BIN-A1")
    assert "货位" in tree.text and "厂区" in tree.text

    loop = app_client.post(
        "/locations/SITE-A",
        data={"csrf_token": csrf, "name": "厂区", "kind": "site", "parent": "BIN-A1"},
    )
    assert loop.status_code == 422 and "循环" in field_error(loop.text, "parent")
    own = app_client.get("/locations/SITE-A")
    assert 'value="BIN-A1"' not in own.text  # its own subtree is not offered as a parent
    moved = app_client.post(
        "/locations/BIN-A1",
        data={"csrf_token": csrf, "name": "一号货位", "kind": "bin", "parent": "", "region": ""},
    )
    assert moved.status_code == 200 and catalog.get_location(db, SYSTEM, "BIN-A1")["parent"] is None


def test_the_bom_of_a_product_is_edited_line_by_line(app_client: TestClient, db: Database) -> None:
    make_product(db, "AC1")
    make_product(db, "MB", rule=None)
    make_product(db, "FAN", rule=None)
    make_product(db, "SCREW", rule=None, tracking="lot")
    production.set_bom(db, SYSTEM, "AC1", BomIn(lines=[BomLineIn(component="MB"),
                                                       BomLineIn(component="FAN")]))  # fmt: skip
    csrf = _in_chinese(app_client, db)
    page = app_client.get("/products/AC1/bom")
    assert page.status_code == 200 and "物料清单" in page.text
    saved = app_client.post(
        "/products/AC1/bom",
        data={"csrf_token": csrf, "policy": "warn",
              "lines.0.component": "MB", "lines.0.quantity": "2", "lines.0.required": "on",
              "lines.1.component": "FAN", "lines.1.quantity": "1", "lines.1.remove": "on",
              "lines.2.component": "SCREW", "lines.2.quantity": "12"},
    )  # fmt: skip
    assert saved.status_code == 200 and 'data-testid="saved"' in saved.text
    bom = production.get_bom(db, SYSTEM, "AC1")
    assert bom["policy"] == "warn"
    assert [(x["component"], x["quantity"], x["required"]) for x in bom["lines"]] == [
        ("MB", 2, True), ("SCREW", 12, False)]  # fmt: skip
    assert audit.list_records(db, SYSTEM, entity="bom", entity_key="AC1")["items"]

    bad = app_client.post(
        "/products/AC1/bom",
        data={"csrf_token": csrf, "policy": "warn",
              "lines.0.component": "MB", "lines.0.quantity": "0",
              "lines.1.component": "", "lines.1.quantity": "1",
              "lines.2.component": "SCREW", "lines.2.quantity": "x"},
    )  # fmt: skip
    assert bad.status_code == 422
    assert field_error(bad.text, r"lines\.0\.quantity") == "不能小于 1"
    assert field_error(bad.text, r"lines\.2\.quantity") == "必须是整数"
    assert len(production.get_bom(db, SYSTEM, "AC1")["lines"]) == 2  # nothing written
    itself = app_client.post(
        "/products/AC1/bom",
        data={"csrf_token": csrf, "policy": "warn", "lines.0.component": "MB",
              "lines.0.quantity": "1", "lines.1.remove": "on", "lines.1.component": "FAN",
              "lines.2.component": "MB", "lines.2.quantity": "1"},
    )  # fmt: skip
    assert itself.status_code == 422  # the row that named MB again is marked, not another
    assert field_error(itself.text, r"lines\.2\.component") == "重复填写"


def test_the_route_of_a_product_is_reordered_and_a_step_made_optional(
    app_client: TestClient, db: Database
) -> None:
    make_product(db, "AC1")
    production.set_route(db, SYSTEM, "AC1", RouteIn(steps=[
        StepDefIn(code="ASSY", name="总装"), StepDefIn(code="LEAK", name="检漏"),
        StepDefIn(code="FQC", name="终检")]))  # fmt: skip
    csrf = _in_chinese(app_client, db)
    page = app_client.get("/products/AC1/route")
    assert page.status_code == 200 and "工艺路线" in page.text
    saved = app_client.post(
        "/products/AC1/route",
        data={"csrf_token": csrf,
              "steps.0.position": "2", "steps.0.code": "ASSY", "steps.0.name": "总装",
              "steps.1.position": "1", "steps.1.code": "LEAK", "steps.1.name": "检漏",
              "steps.1.required": "on",
              "steps.2.position": "3", "steps.2.code": "FQC", "steps.2.name": "终检",
              "steps.2.remove": "on",
              "steps.3.position": "4", "steps.3.code": "PACK", "steps.3.name": "包装",
              "steps.3.required": "on"},
    )  # fmt: skip
    assert saved.status_code == 200, saved.text[-2000:]
    steps = production.get_route(db, SYSTEM, "AC1")["steps"]
    assert [(s["code"], s["required"]) for s in steps] == [
        ("LEAK", True), ("ASSY", False), ("PACK", True)]  # fmt: skip

    bad = app_client.post(
        "/products/AC1/route",
        data={"csrf_token": csrf,
              "steps.0.position": "1", "steps.0.code": "LEAK", "steps.0.name": "检漏",
              "steps.1.position": "2", "steps.1.code": "LEAK", "steps.1.name": "again",
              "steps.2.position": "x", "steps.2.code": "A B", "steps.2.name": "bad"},
    )  # fmt: skip
    assert bad.status_code == 422
    assert field_error(bad.text, r"steps\.2\.position") == "必须是整数"
    assert [s["code"] for s in production.get_route(db, SYSTEM, "AC1")["steps"]] == [
        "LEAK", "ASSY", "PACK"]  # fmt: skip


def test_only_roles_that_may_change_master_data_see_forms_and_nav(
    app_client: TestClient, db: Database
) -> None:
    make_product(db, "AC1")
    make_party(db, "D-EAST")
    make_location(db, "WH1")
    login(app_client, db, "readonly")
    home = app_client.get("/")
    assert 'href="/parties"' in home.text and 'href="/locations"' in home.text
    for url in ("/parties", "/parties/D-EAST", "/locations", "/locations/WH1",
                "/products/AC1/bom", "/products/AC1/route"):  # fmt: skip
        page = app_client.get(url)
        assert page.status_code == 200, url
        assert 'data-testid="party-new"' not in page.text and '-save"' not in page.text, url
    csrf = login(app_client, db, "readonly")
    refused = app_client.post("/parties/D-EAST", data={"csrf_token": csrf, "name": "x",
                                                        "kind": "distributor"})  # fmt: skip
    assert refused.status_code == 403
    assert catalog.get_party(db, SYSTEM, "D-EAST")["name"] == "D-EAST"

    login(app_client, db, "partner")
    home = app_client.get("/")
    assert 'href="/parties"' not in home.text and 'href="/locations"' not in home.text
    for url in ("/parties", "/parties/D-EAST", "/locations", "/locations/WH1"):
        assert app_client.get(url).status_code == 403, url


def test_the_audit_trail_names_changed_fields_in_chinese(
    app_client: TestClient, db: Database
) -> None:
    make_party(db, "D-EAST", regions=["CN-31"])
    csrf = _in_chinese(app_client, db)
    form = {"csrf_token": csrf, "name": "华东", "kind": "distributor",
            "authorised_regions": ["CN-31", "CN-32"]}  # fmt: skip
    app_client.post("/parties/D-EAST", data=form)
    page = app_client.get("/audit?entity=party&key=D-EAST")
    changes = re.findall(r"<li><b>([^<]+)</b>", page.text)
    assert changes and "授权销售区域" in changes and "名称" in changes
    assert not [c for c in changes if re.search(r"[a-z]{3,}", c)], changes
