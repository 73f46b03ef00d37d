"""Docs that cannot drift: settings, commands, roles and API paths must be documented."""

from __future__ import annotations

import re
from pathlib import Path

import click
import typer.main

from unitrace.access.principal import ROLES
from unitrace.cli.main import app
from unitrace.config import SETTINGS
from unitrace.core.serials import SerialTemplate

ROOT = Path(__file__).resolve().parent.parent


def read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme() -> None:
    readme = read("README.md")
    missing = [name for name in SETTINGS if f"`{name}`" not in readme]
    assert not missing


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    found = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, f"{prefix}{name} ")
        else:
            found.append(f"{prefix}{name}")
    return found


def test_every_cli_command_is_in_the_operations_guide() -> None:
    guide = read("docs/operations.md")
    commands = _commands(typer.main.get_group(app))
    assert len(commands) >= 9
    missing = [c for c in commands if f"`unitrace {c}" not in guide]
    assert not missing


def test_every_role_and_api_path_is_documented() -> None:
    from unitrace.api.app import create_app
    from unitrace.db.engine import Database

    api_doc = read("docs/api.md")
    assert all(f"`{role}`" in api_doc for role in ROLES)
    schema = create_app(Database("sqlite://")).openapi()
    for path in schema["paths"]:
        short = path.removeprefix("/api/v1")
        assert re.sub(r"\{[^}]+\}", "{", short).split("{")[0] in api_doc, path


def test_serial_rule_examples_are_true() -> None:
    for rule, example in re.findall(r"^\| `([^`]+)` \| `([^`]+)`", read("docs/serial-rules.md"),
                                    re.M):  # fmt: skip
        assert SerialTemplate.parse(rule).mismatch(example, "AC1") is None, (rule, example)


def test_every_role_and_permission_is_in_the_access_guide() -> None:
    from unitrace.access.principal import PERMISSIONS

    guide = read("docs/access.md")
    assert all(f"`{role}`" in guide for role in ROLES)
    assert all(f"`{permission}`" in guide for permission in PERMISSIONS)
