"""Parts installed in a unit: they leave it when received on their own or taken out of a
scrapped parent, and a replacement names each removed part once."""

from __future__ import annotations

import pytest

from tests.factories import make_location, make_product, make_units, record
from unitrace.access.principal import SYSTEM
from unitrace.core.errors import ValidationError
from unitrace.db.engine import Database
from unitrace.ledger import queries
from unitrace.ledger.replay import verify_ledger
from unitrace.ledger.schemas import UnitRef


def test_installed_parts_detach_when_received_and_leave_scrapped_parents(db: Database) -> None:
    make_location(db)
    make_product(db, "FG", rule="FG{seq:3}")
    make_product(db, "PT", rule="PT{seq:3}")
    (machine,) = make_units(db, "FG", 1)
    a, b = make_units(db, "PT", 2)
    record(db, type="assemble", product="PT", serials=[a, b],
           parent=UnitRef(product="FG", serial=machine))  # fmt: skip
    record(db, type="recall", product="PT", serials=[b])
    record(db, type="receive", product="PT", serials=[b], location="WH1")
    assert queries.dossier(db, SYSTEM, b)["parent"] is None
    assert [c["serial"] for c in queries.dossier(db, SYSTEM, machine)["components"]] == [a]
    record(db, type="scrap", product="FG", serials=[machine])
    record(db, type="disassemble", product="PT", serials=[a], location="WH1",
           parent=UnitRef(product="FG", serial=machine))  # fmt: skip
    assert queries.dossier(db, SYSTEM, a)["status"] == "in_stock"
    assert verify_ledger(db, SYSTEM).ok


def test_a_part_removed_twice_names_the_second(db: Database) -> None:
    make_product(db, "FG", rule="FG{seq:3}")
    make_product(db, "PT", rule="PT{seq:3}")
    (machine,) = make_units(db, "FG", 1)
    old, new = make_units(db, "PT", 2)
    record(db, type="assemble", product="PT", serials=[old],
           parent=UnitRef(product="FG", serial=machine))  # fmt: skip
    with pytest.raises(ValidationError) as info:
        record(db, type="replace_part", product="PT", serials=[new],
               parent=UnitRef(product="FG", serial=machine),
               removed=[UnitRef(serial=old), UnitRef(serial=old)])  # fmt: skip
    assert info.value.errors[0].field == "removed.1.serial"
