"""GS1 identifiers: the company prefix length a product's EPC needs, and a unit's Digital Link
URI, SGTIN EPC URN, element string and bracketed form (issue 15). Built by `core.gs1` only;
this module decides which data goes in and what is said when something is missing."""

from __future__ import annotations

from datetime import date
from typing import Any

from unitrace.config import gs1_prefixes, public_url
from unitrace.core import gs1
from unitrace.core.errors import FieldError, ValidationError

# why a unit has no EPC / no identifiers: msgids (the dossier page translates them)
NO_PREFIX = (
    "no GS1 company prefix length: set it on the product or in UNITRACE_GS1_PREFIXES "
    "(the EPC is not guessed)"
)
NOT_GS1_SERIAL = "the serial cannot be a GS1 serial (AI 21: at most 20 of GS1's characters)"


def company_prefix_length(gtin14: str | None, own: int | None) -> int | None:
    """The product's own length, else the longest `UNITRACE_GS1_PREFIXES` entry its GTIN
    (GTIN-13 form: without the indicator digit) starts with, else None."""
    if own is not None:
        return own
    if gtin14 is None:
        return None
    digits = gtin14[1:]
    return next((length for prefix, length in gs1_prefixes() if digits.startswith(prefix)), None)


def company_prefix_problem(gtin: str | None, length: int | None) -> FieldError | None:
    """What is wrong with a product's company prefix length for its GTIN (None: nothing)."""
    field = "gs1_company_prefix_length"
    if length is None:
        return None
    if gtin is None:
        return FieldError(field, "needs a gtin: the company prefix is its first digits", length)
    if len(gtin) == 8:
        return FieldError(field, "a GTIN-8 has no GS1 company prefix", length)
    if len(gtin) == 12 and length < 7:
        # a UPC's 6-11 digit prefix is 7-12 digits in the GTIN-13 form (with its leading 0)
        return FieldError(field, "a GTIN-12's prefix counts its leading 0: 7-12 digits", length)
    return None


def unit_identifiers(
    gtin: str | None,
    serial: str,
    prefix_length: int | None,
    lot: str | None = None,
    expiry: date | None = None,
) -> dict[str, Any] | None:
    """A unit's identifiers (`digital_link`, `epc`, `element_string`, `bracketed`, and
    `note`: why one is missing), or None when its product has no GTIN."""
    if gtin is None:
        return None
    gtin14 = gs1.gtin14(gtin)
    try:
        try:
            elements = gs1.unit_elements(gtin14, serial, lot, expiry)
        except ValidationError:  # a lot number GS1's AI 10 cannot carry: the unit without it
            elements = gs1.unit_elements(gtin14, serial, None, expiry)
        found: dict[str, Any] = {
            "digital_link": gs1.digital_link(elements, public_url()),
            "epc": None,
            "element_string": gs1.element_string(elements),
            "bracketed": gs1.bracketed(elements),
            "note": None,
        }
        if prefix_length is None:
            found["note"] = NO_PREFIX
        else:
            found["epc"] = gs1.sgtin_urn(gtin14, serial, prefix_length)
    except ValidationError:
        return {
            "digital_link": None,
            "epc": None,
            "element_string": None,
            "bracketed": None,
            "note": NOT_GS1_SERIAL,
        }
    return found
