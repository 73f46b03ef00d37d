"""`ledger.scanned` without a database: which texts are GS1 codes, the GTIN forms a product
may keep, and how a code's lot or expiry that is not the unit's is said."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from unitrace.core import gs1
from unitrace.ledger.scanned import MAX_SCANNED_LENGTH, Scan, gtin_forms, is_gs1, length_exceeded

SCANNER_TEXT = st.text(alphabet=st.sampled_from("]dQ2C1(0)1hHtps:/.x\x1dAZ9"), max_size=40)


@given(SCANNER_TEXT | st.text(max_size=40))
def test_the_quick_test_misses_no_code_the_gs1_module_takes(text: str) -> None:
    assert is_gs1(text) == gs1.looks_like_gs1(text)


def test_plain_serials_are_not_gs1_and_every_gs1_form_is() -> None:
    for serial in ("SN2611-0000017", "T001", "序列号-1", "h", "(x)"):
        assert not is_gs1(serial), serial
    elements = gs1.unit_elements("9506000134352", "ABC123", "L1", date(2027, 12, 31))
    for code in (
        gs1.element_string(elements),
        "]d2" + gs1.element_string(elements),
        gs1.bracketed(elements),
        gs1.digital_link(elements, "https://example.com"),
    ):
        assert is_gs1(code), code


def test_a_gtin_14_is_looked_up_in_every_length_it_pads() -> None:
    assert gtin_forms("09506000134352") == ["09506000134352", "9506000134352"]
    assert gtin_forms("00036000291452") == ["00036000291452", "0036000291452", "036000291452"]
    assert gtin_forms("00000096385074")[-1] == "96385074"  # a GTIN-8
    assert gtin_forms("19506000134359") == ["19506000134359"]


def test_a_long_text_is_a_serial_too_long_unless_it_is_a_gs1_code() -> None:
    link = gs1.digital_link(
        gs1.unit_elements("9506000134352", "A" * 20, "L" * 20), "https://x.example.com"
    )
    assert len(link) > 64 and length_exceeded(link) is None
    assert length_exceeded("S" * 65) == 64
    assert (
        length_exceeded("https://x.example.com/01/" + "9" * MAX_SCANNED_LENGTH)
        == MAX_SCANNED_LENGTH
    )


def test_a_mismatch_names_the_value_in_the_code_and_the_units() -> None:
    scan = Scan("(01)…", "ABC123", "MED", lot="L2", expiry=date(2027, 11, 30))
    said = [e.message for e in scan.mismatches("serials.0", "L1", date(2027, 12, 31))]
    assert said == [
        "lot in the code is L2, the unit's lot is L1",
        "expiry in the code is 2027-11-30, the unit's lot expires 2027-12-31",
    ]
    assert [e.message for e in scan.mismatches("serial", None, None)] == [
        "lot in the code is L2, the unit has no lot",
        "expiry in the code is 2027-11-30, the unit's lot has no expiry date",
    ]
    assert scan.mismatches("serial", "L2", date(2027, 11, 30)) == []
    assert not Scan("T1", "T1", None).checked
