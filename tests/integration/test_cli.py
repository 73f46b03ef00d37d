"""The `unitrace` command as a person uses it: clear lines, non-zero exits on errors."""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from tests.servers import first_start


def test_product_serials_unit_show(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = cli("product", "add", "AC1", "空调", "--serial-rule", "AC{yy}{seq:5}{check:luhn}")
    assert out.exit_code == 0, out.output
    out = cli("serials", "generate", "AC1", "--count", "5")
    assert out.exit_code == 0, out.output
    serials = [line for line in out.stdout.splitlines() if line.startswith("AC")]
    assert len(serials) == 5
    listing = tmp_path / "serials.txt"
    out = cli("serials", "generate", "AC1", "--count", "3", "--out", str(listing))
    assert out.exit_code == 0 and len(listing.read_text().split()) == 3
    show = cli("unit", "show", serials[0])
    assert show.exit_code == 0 and "commissioned" in show.output and "commission" in show.output
    data = json.loads(cli("unit", "show", serials[0], "--json").stdout)
    assert data["serial"] == serials[0] and data["events"][0]["type"] == "commission"
    assert cli("ledger", "verify").exit_code == 0


def test_errors_are_one_clear_line_and_nonzero(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = cli("product", "add", "P1", "x", "--gtin", "09506000134353")
    assert bad.exit_code == 2 and "gtin" in bad.output and "Traceback" not in bad.output
    bad = cli("product", "add", "P1", "x", "--serial-rule", "SN{nope}{seq:3}")
    assert bad.exit_code == 2 and "{nope}" in bad.output
    missing = cli("unit", "show", "NOPE")
    assert missing.exit_code == 3 and "NOPE" in missing.output
    assert cli("serials", "generate", "NOPRODUCT", "--count", "2").exit_code == 3
    assert cli("serials", "generate", "X").exit_code == 2
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    assert cli("serials", "generate", "X", "--from-file", str(empty)).exit_code == 2
    assert cli("serials", "generate", "X", "--from-file", str(tmp_path / "no.txt")).exit_code == 2


def test_register_file_with_duplicates_writes_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("product", "add", "P1", "Part").exit_code == 0
    listing = tmp_path / "s.txt"
    listing.write_text("\ufeffA1\nA2\nA1\n", encoding="utf-8")
    out = cli("serials", "generate", "P1", "--from-file", str(listing))
    assert out.exit_code == 2 and "serials.2" in out.output
    listing.write_text("A1\nA2\n")
    assert cli("serials", "generate", "P1", "--from-file", str(listing)).exit_code == 0
    again = cli("serials", "generate", "P1", "--from-file", str(listing))
    assert again.exit_code == 4 and "already exist" in again.output


def test_users_and_tokens(cli) -> None:  # type: ignore[no-untyped-def]
    short = cli("user", "create", "alice", "--role", "admin", input="short\n")
    assert short.exit_code == 2 and "password" in short.output
    assert cli("user", "create", "alice", "--role", "boss", input="long enough pw\n").exit_code == 2
    made = cli("user", "create", "alice", "--role", "admin", input="long enough pw\n")
    assert made.exit_code == 0, made.output
    token = cli("token", "create", "alice", "--name", "erp")
    assert token.exit_code == 0 and re.fullmatch(r"ut_\S{40,}\n", token.stdout)
    assert cli("token", "create", "bob").exit_code == 3


def test_demo_data_is_consistent(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("demo", "--units", "200")
    assert out.exit_code == 0, out.output
    verify = cli("ledger", "verify")
    assert verify.exit_code == 0 and "0 mismatches" in verify.output
    units = re.search(r"(\d+) units", verify.output)
    assert units and int(units.group(1)) >= 600  # finished units, compressors and boards
    again = cli("demo", "--units", "200")
    assert again.exit_code == 4 and "empty database" in again.output


@pytest.mark.slow
def test_serve_first_start_prints_credentials_that_work(tmp_path: Path) -> None:
    server, port, text = first_start(tmp_path)
    try:
        token = re.search(r"API token: (ut_\S+)", text)
        assert token and re.search(r"password: \S{12,}", text)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/me",
            headers={"Authorization": f"Bearer {token.group(1)}"},
        )
        for _ in range(100):
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    assert json.load(response)["role"] == "admin"
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("server did not answer")
        assert (tmp_path / "data" / "unitrace.db").exists()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(20)
        server.stdout.close()  # type: ignore[union-attr]
