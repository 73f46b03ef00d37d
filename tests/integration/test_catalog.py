import pytest
from pydantic import ValidationError as PydanticValidationError

from tests.factories import make_party, make_product
from unitrace.access.principal import SYSTEM, Actor
from unitrace.catalog import service
from unitrace.catalog.schemas import LotCreate, PartyCreate, ProductCreate, ProductUpdate
from unitrace.core.errors import Conflict, Forbidden, NotFound, ValidationError
from unitrace.db.engine import Database


def test_product_roundtrip(db: Database) -> None:
    make_product(db, "AC1", gtin="09506000134352", warranty_months=24, warranty_start="activation")
    got = service.get_product(db, SYSTEM, "AC1")
    assert got["gtin"] == "09506000134352"
    assert got["warranty_start"] == "activation"
    listed = service.list_products(db, SYSTEM, q="0950600013435")
    assert listed["total"] == 0
    assert service.list_products(db, SYSTEM, q="09506000134352")["total"] == 1


def test_bad_gtin_names_the_field_and_writes_nothing(db: Database) -> None:
    with pytest.raises(ValidationError) as info:
        make_product(db, "AC1", gtin="09506000134353")
    assert info.value.errors[0].field == "gtin"
    assert service.list_products(db, SYSTEM)["total"] == 0


def test_bad_template_is_refused_on_save(db: Database) -> None:
    with pytest.raises(ValidationError, match=r"\{seq:x\}"):
        make_product(db, "AC1", rule="SN{seq:x}")
    make_product(db, "AC1")
    with pytest.raises(ValidationError, match="unknown token"):
        service.update_product(db, SYSTEM, "AC1", ProductUpdate(serial_rule="SN{bogus}{seq:3}"))


def test_duplicates_conflict(db: Database) -> None:
    make_product(db, "AC1", gtin="09506000134352")
    with pytest.raises(Conflict) as info:
        make_product(db, "AC1")
    assert info.value.errors[0].field == "code"
    with pytest.raises(Conflict) as info:
        make_product(db, "AC2", gtin="09506000134352")
    assert info.value.errors[0].field == "gtin"


def test_lot_rules(db: Database) -> None:
    make_product(db, "SCREW", rule=None, tracking="lot")
    make_party(db, "SUP", kind="supplier")
    service.create_lot(db, SYSTEM, LotCreate(product="SCREW", number="L1", supplier="SUP"))
    with pytest.raises(Conflict):
        service.create_lot(db, SYSTEM, LotCreate(product="SCREW", number="L1"))
    with pytest.raises(NotFound) as info:
        service.create_lot(db, SYSTEM, LotCreate(product="SCREW", number="L2", supplier="NOPE"))
    assert info.value.errors[0].field == "supplier"


def test_regions_are_checked_one_by_one(db: Database) -> None:
    with pytest.raises(PydanticValidationError) as info:
        PartyCreate(
            code="D1",
            name="D1",
            kind="distributor",
            authorised_regions=["CN-31", "shanghai", "CN-44", "??"],
        )
    assert [e["loc"] for e in info.value.errors()] == [
        ("authorised_regions", 1),
        ("authorised_regions", 3),
    ]
    with pytest.raises(ValidationError) as twice:
        service.create_party(
            db,
            SYSTEM,
            PartyCreate(code="C1", name="C1", kind="customer", authorised_regions=["CN-31"] * 2),
        )
    assert [e.field for e in twice.value.errors] == ["authorised_regions.1", "authorised_regions"]


def test_readonly_cannot_write(db: Database) -> None:
    reader = Actor("viewer", "readonly", 99)
    with pytest.raises(Forbidden):
        service.create_product(db, reader, ProductCreate(code="X", name="X"))
    assert service.list_products(db, reader)["total"] == 0
