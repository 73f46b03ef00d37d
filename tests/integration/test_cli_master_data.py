"""`unitrace party …` and `unitrace location …`: add, list, show and change, with the field
named on a refused change and the exit code of the kind of error."""

from __future__ import annotations

import json


def test_a_partys_authorised_regions_are_changed_from_the_command_line(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("party", "add", "D-EAST", "华东经销", "--kind", "distributor",
              "--authorised-regions", "CN-31", "--contact", "王经理")  # fmt: skip
    assert out.exit_code == 0, out.output
    out = cli("party", "set", "D-EAST", "--authorised-regions", "CN-31,CN-32")
    assert out.exit_code == 0, out.output
    assert "CN-32 Jiangsu" in out.output
    shown = json.loads(cli("party", "show", "D-EAST", "--json").stdout)
    assert shown["authorised_regions"] == ["CN-31", "CN-32"] and shown["contact"] == "王经理"
    listed = json.loads(cli("party", "list", "--json").stdout)
    assert listed["total"] == 1 and listed["items"][0]["code"] == "D-EAST"

    bad = cli("party", "set", "D-EAST", "--name", "", "--authorised-regions", "CN-31,x")
    assert bad.exit_code == 2
    assert "authorised_regions.1: not a region code" in bad.output and "name:" in bad.output
    kind = cli("party", "set", "D-EAST", "--kind", "customer")
    assert kind.exit_code == 2 and "only distributors and retailers" in kind.output
    assert cli("party", "show", "NOPE").exit_code == 3


def test_locations_form_a_tree_and_can_be_moved(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("location", "add", "SITE", "工厂", "--kind", "site").exit_code == 0
    out = cli("location", "add", "WH1", "仓库", "--kind", "warehouse", "--parent", "SITE")
    assert out.exit_code == 0, out.output
    out = cli("location", "add", "BIN1", "货位", "--kind", "bin", "--parent", "WH1")
    assert out.exit_code == 0, out.output
    tree = cli("location", "list")
    assert tree.exit_code == 0
    lines = [line for line in tree.output.splitlines() if "BIN1" in line or "WH1" in line]
    assert lines[0].index("WH1") < lines[1].index("BIN1")  # the bin is indented under WH1
    moved = cli("location", "set", "BIN1", "--parent", "", "--json")
    assert moved.exit_code == 0 and json.loads(moved.stdout)["parent"] is None
    loop = cli("location", "set", "SITE", "--parent", "WH1")
    assert loop.exit_code == 2 and "parent" in loop.output
    shown = json.loads(cli("location", "show", "WH1", "--json").stdout)
    assert shown["parent"] == "SITE"
