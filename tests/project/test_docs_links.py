"""Links in docs/ work wherever the folder is published: they stay inside it and hit a heading."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import netra_frames

DOCS = Path(netra_frames.__file__).resolve().parents[1] / "docs"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, blanks to ``-``."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def relative_links(page: Path) -> list[str]:
    links = LINK.findall(page.read_text(encoding="utf-8"))
    return [link for link in links if not re.match(r"[a-z]+:", link)]


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_links_stay_in_docs_and_hit_a_heading(page: Path) -> None:
    for link in relative_links(page):
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        assert path.parent == DOCS and path.is_file(), f"{page.name}: {link} leaves docs/"
        if anchor:
            assert anchor in anchors(path), f"{page.name}: no heading for {link}"


def test_the_wire_contract_is_published_and_linked() -> None:
    contract = (DOCS / "api-contract.md").read_text(encoding="utf-8")
    assert "## Pagination semantics" in contract and "POST /sdk/traces" in contract
    for page in ("index.md", "local-server.md"):
        assert "(api-contract.md)" in (DOCS / page).read_text(encoding="utf-8"), page
    for page in DOCS.glob("*.md"):
        assert "shared/netra-api.md" not in page.read_text(encoding="utf-8"), page.name
