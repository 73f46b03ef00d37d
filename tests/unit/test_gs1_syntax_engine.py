"""Every case of GS1's reference parser's own tests (the GS1 Syntax Engine's `dl.c` and `ai.c`
unit tests, tests/data/gs1/) gets the engine's answer from `core.gs1`: accepted with the same
AIs and values, or refused.

The engine's default options are unitrace's: a case recorded with `non_default_flags` (each
of them relaxes the engine — zero-suppressed GTINs in a Digital Link, convenience alphas,
unknown AIs) is refused here, as the engine refuses it by default. Set GS1_ENGINE_CASES to
another file of the same shape (e.g. the whole collection) to try that instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from unitrace.core import gs1
from unitrace.core.errors import ValidationError

CASES_FILE = Path(
    os.environ.get("GS1_ENGINE_CASES")
    or Path(__file__).resolve().parents[1] / "data" / "gs1" / "gs1-syntax-engine-sample.json"
)
CASES: dict[str, Any] = json.loads(CASES_FILE.read_text(encoding="utf-8"))
RELAXING = {
    "permit_zero_suppressed_gtin_in_dl": "true",
    "permit_convenience_alphas": "true",
    "permit_unknown_ais": "true",
    "validate_unknown_ai_not_dl_attr": "false",
}


def engine_default_answer(case: dict[str, Any]) -> bool:
    """Whether the engine accepts the case with its default options."""
    flags = case.get("non_default_flags") or {}
    assert all(RELAXING.get(name) == value for name, value in flags.items()), flags
    return bool(case["should_succeed"]) and not flags


def ai_data(engine_output: str) -> list[tuple[str, str]]:
    """The engine's `^`-for-FNC1 AI data as (AI, value) pairs, read by the raw-data path (the
    engine writes values that are themselves valid element strings)."""
    return sorted((e.ai, e.value) for e in gs1.parse(engine_output.replace("^", gs1.GS)).elements)


def found(text: str) -> list[tuple[str, str]] | None:
    try:
        return sorted((e.ai, e.value) for e in gs1.parse(text).elements)
    except ValidationError as exc:
        assert exc.errors and all(e.field == "code" for e in exc.errors)
        return None


def cases(kind: str, key: str) -> Any:
    return pytest.mark.parametrize(
        "case", CASES.get(kind, []), ids=[repr(c[key])[:90] for c in CASES.get(kind, [])]
    )


@cases("parse_dl_uri", "dl_uri")
def test_digital_link_uri_gets_the_engines_answer(case: dict[str, Any]) -> None:
    got = found(case["dl_uri"])
    if engine_default_answer(case):
        assert got == ai_data(case["expected_ai_data"])
    else:
        assert got is None


@cases("parse_bracketed_ai_data", "ai_data_hri")
def test_bracketed_string_gets_the_engines_answer(case: dict[str, Any]) -> None:
    got = found(case["ai_data_hri"])
    if engine_default_answer(case):
        assert got == ai_data(case["expected_ai_data"])
    else:
        assert got is None


@cases("process_raw_ai_data", "ai_data")
def test_element_string_gets_the_engines_answer(case: dict[str, Any]) -> None:
    # "^" is FNC1: in first position the symbology identifier of a GS1 DataMatrix says so,
    # inside the data a scanner sends it as GS
    text = case["ai_data"]
    scanned = "]d2" + text[1:].replace("^", gs1.GS) if text.startswith("^") else text
    assert (found(scanned) is not None) == engine_default_answer(case)


@cases("generate_dl_uri", "ai_data_hri")
def test_digital_link_generation_gets_the_engines_answer(case: dict[str, Any]) -> None:
    stem = case["stem"] or gs1.DEFAULT_STEM
    try:
        uri: str | None = gs1.digital_link(gs1.parse(case["ai_data_hri"]).elements, stem)
    except ValidationError:
        uri = None
    if engine_default_answer(case):
        assert uri == case["expected_dl_uri"]
    else:
        assert uri is None


def test_the_case_file_holds_every_kind_of_case() -> None:
    kinds = ("parse_dl_uri", "generate_dl_uri", "parse_bracketed_ai_data", "process_raw_ai_data")
    assert all(CASES.get(kind) for kind in kinds)
    assert any(c["should_succeed"] for c in CASES["parse_dl_uri"])
    assert any(not c["should_succeed"] for c in CASES["parse_dl_uri"])
