"""`unitrace gs1` and `POST /api/v1/gs1/…`: what a scanner sent, read strictly, and a unit's
Digital Link written — the same answers through the CLI and the API."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.clients import Api, assert_problem
from unitrace.cli.main import app

UNIT = "(01)09506000134352(17)271231(10)L1(21)ABC123"
ELEMENTS = [
    {"ai": "01", "value": "09506000134352"},
    {"ai": "17", "value": "271231"},
    {"ai": "10", "value": "L1"},
    {"ai": "21", "value": "ABC123"},
]
DL = "https://id.gs1.org/01/09506000134352/10/L1/21/ABC123?17=271231"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    "typed",
    [
        UNIT,
        "]d201095060001343521727123110L1\\x1d21ABC123",
        "]d201095060001343521727123110L1<GS>21ABC123",
        "01095060001343521727123110L1<gs>21ABC123",
        "01095060001343521727123110L1\x1d21ABC123",
        DL,
    ],
)
def test_cli_parse_prints_the_ais_as_json(typed: str) -> None:
    code, out, _ = run("gs1", "parse", typed, "--json")
    assert code == 0
    assert sorted(json.loads(out)["elements"], key=lambda e: e["ai"]) == sorted(
        ELEMENTS, key=lambda e: e["ai"]
    )


def test_cli_parse_prints_a_table_with_the_ai_titles() -> None:
    code, out, _ = run("gs1", "parse", UNIT)
    assert code == 0
    assert "SERIAL" in out and "ABC123" in out and "USE BY or EXPIRY" in out


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("ABC123", "not valid GS1"),
        ("(01)09506000134353(21)A", "check digit"),
        ("(01)09506000134352(17)271340", "month"),
        ("https://example.com/01/9506000134352", "length"),
    ],
)
def test_cli_parse_names_what_is_wrong_with_exit_2(text: str, said: str) -> None:
    code, out, err = run("gs1", "parse", text, "--json")
    assert code == 2 and out == ""
    assert said in err and "Traceback" not in err


def test_cli_dl_prints_the_digital_link(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNITRACE_PUBLIC_URL", raising=False)
    assert run("gs1", "dl", UNIT) == (0, DL + "\n", "")
    code, out, _ = run("gs1", "dl", UNIT, "--stem", "https://example.com/shop/")
    assert out == DL.replace("https://id.gs1.org", "https://example.com/shop") + "\n"
    monkeypatch.setenv("UNITRACE_PUBLIC_URL", "https://id.example.com/")
    assert run("gs1", "dl", UNIT)[1] == DL.replace("id.gs1.org", "id.example.com") + "\n"


def test_cli_dl_refuses_a_bad_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNITRACE_PUBLIC_URL", "id.example.com")
    code, _, err = run("gs1", "dl", UNIT)
    assert code == 2 and "UNITRACE_PUBLIC_URL" in err


def test_api_parse_answers_the_ais_and_the_unit_fields(api: Api) -> None:
    response = api.post("/gs1/parse", {"text": DL}, headers=api.reader)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "form": "digital_link",
        "elements": ELEMENTS[:1] + ELEMENTS[2:] + ELEMENTS[1:2],
        "gtin": "09506000134352",
        "serial": "ABC123",
        "lot": "L1",
        "expiry": "2027-12-31",
    }


@pytest.mark.parametrize(
    "text", ["ABC123", "(01)09506000134353(21)A", "]d2019506000134352", "https://a/01/x"]
)
def test_api_parse_refuses_with_422_naming_text(api: Api, text: str) -> None:
    body = assert_problem(api.post("/gs1/parse", {"text": text}), 422, "text")
    assert body["errors"][0]["message"]


def test_api_parse_validates_the_body(api: Api) -> None:
    assert_problem(api.post("/gs1/parse", {"text": ""}), 422, "text")
    assert_problem(api.post("/gs1/parse", {"code": UNIT}), 422)


def test_api_dl_from_text_or_elements(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNITRACE_PUBLIC_URL", raising=False)
    expected = {
        "digital_link": DL,
        "element_string": "01095060001343521727123110L1\x1d21ABC123",
        "bracketed": UNIT,
    }
    assert api.post("/gs1/dl", {"text": UNIT}).json() == expected
    assert api.post("/gs1/dl", {"elements": ELEMENTS}).json() == expected
    answer = api.post("/gs1/dl", {"text": DL, "stem": "https://example.com"}).json()
    assert answer["digital_link"] == DL.replace("id.gs1.org", "example.com")


def test_api_dl_refuses_what_cannot_be_a_digital_link(api: Api) -> None:
    assert_problem(api.post("/gs1/dl", {}), 422)
    assert_problem(api.post("/gs1/dl", {"text": UNIT, "elements": ELEMENTS}), 422)
    assert_problem(api.post("/gs1/dl", {"text": UNIT, "stem": "ftp://x"}), 422, "stem")
    no_key = [{"ai": "21", "value": "ABC123"}]
    assert_problem(api.post("/gs1/dl", {"elements": no_key}), 422, "elements")
    bad = [{"ai": "01", "value": "09506000134353"}]
    assert_problem(api.post("/gs1/dl", {"elements": bad}), 422, "elements")


def test_api_gs1_needs_a_token(api: Api) -> None:
    assert_problem(api.client.post("/api/v1/gs1/parse", json={"text": UNIT}), 401)
