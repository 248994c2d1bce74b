"""docs/events.md is what the catalogue generates."""

from __future__ import annotations

from shared.contracts import CATALOGUE
from shared.contracts.docs import COMMAND, DOC, render


def test_docs_events_md_is_the_catalogue_as_generated():
    assert DOC.read_text(encoding="utf-8") == render(), f"docs/events.md is stale: run `{COMMAND}`"


def test_the_doc_has_every_contract_with_its_example():
    text = render()
    for contract in CATALOGUE:
        assert f"### `{contract.type}` v{contract.version}" in text
        assert f"- producer: {contract.producer}" in text
