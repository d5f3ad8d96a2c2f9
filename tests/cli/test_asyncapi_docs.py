"""Each service's checked-in AsyncAPI document matches what its FastStream app generates."""

from __future__ import annotations

from pathlib import Path

from prefstream_cli.tools import asyncapi_documents

DOCS = Path(__file__).resolve().parents[2] / "docs" / "asyncapi"


def test_checked_in_asyncapi_documents_are_current() -> None:
    generated = asyncapi_documents()
    for name, text in generated.items():
        path = DOCS / name
        assert path.exists(), f"{path} missing: run `make asyncapi` and commit it"
        assert path.read_text() == text, f"{path} is stale: run `make asyncapi` and commit it"
    stray = {p.name for p in DOCS.glob("*.json")} - set(generated)
    assert not stray, f"documents for services that no longer exist: {stray}"


def test_config_reference_is_current() -> None:
    from prefstream_cli.config_reference import render_reference

    path = DOCS.parent / "configuration.md"
    assert path.exists(), f"{path} missing: run `make config-reference`"
    assert path.read_text() == render_reference(), (
        f"{path} is stale: run `make config-reference` and commit it"
    )
