"""The user documentation keeps up with the code: every command documented, every page linked."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from lai.cli import app

DOCS = Path(__file__).resolve().parents[1] / "docs"
README = Path(__file__).resolve().parents[1] / "README.md"


def command_paths(group: typer.Typer, prefix: str = "lai") -> list[str]:
    click_group = typer.main.get_command(group)
    paths = []

    def walk(command: object, path: str) -> None:
        subcommands = getattr(command, "commands", {})
        for name, sub in subcommands.items():
            paths.append(f"{path} {name}")
            walk(sub, f"{path} {name}")

    walk(click_group, prefix)
    return paths


def test_cli_reference_documents_every_command() -> None:
    text = (DOCS / "cli.md").read_text()
    missing = [path for path in command_paths(app) if f"`{path}`" not in text]
    assert missing == []


def test_every_docs_page_linked_from_the_readme_exists() -> None:
    links = re.findall(r"\]\((docs/[^)]+\.md)\)", README.read_text())
    assert links
    assert [link for link in links if not (README.parent / link).is_file()] == []
