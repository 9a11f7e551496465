"""The design the code cites lives in docs/: every cited page is in the index, none is forgotten."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SOURCES = [
    p
    for folder in ("fieldlog", "tests", "templates", "static", "benchmarks", ".ci")
    for p in (ROOT / folder).rglob("*")
    if p.is_file()
    and p.suffix in {".py", ".html", ".js", ".mjs", ".css", ".md", ""}
    and "node_modules" not in p.parts
]
CITED = re.compile(r"docs/([a-z0-9-]+\.md)")
INDEXED = set(re.findall(r"\]\(([a-z0-9-]+\.md)\)", (DOCS / "README.md").read_text("utf-8")))


def test_the_index_lists_every_page():
    pages = {p.name for p in DOCS.glob("*.md")} - {"README.md"}
    assert pages - INDEXED == set(), "add these pages to docs/README.md"
    assert INDEXED - pages == set(), "docs/README.md links to pages that do not exist"


def test_citations_point_into_the_repository():
    """Code cites docs/… pages that the index names, never a design file outside the repo."""
    design, unknown = [], []
    for path in SOURCES:
        text = path.read_text("utf-8", errors="replace")
        name = str(path.relative_to(ROOT))
        if re.search(r"DESIGN (§|section)", text):
            design.append(name)
        unknown += [f"{name}: docs/{page}" for page in set(CITED.findall(text)) - INDEXED]
    assert design == [], "cite the docs/ page instead of DESIGN"
    assert unknown == [], "cite a page that docs/README.md lists"


def test_the_checks_read_the_sources():
    assert len(SOURCES) > 100 and {"kpi.md", "contract.md", "architecture.md"} <= INDEXED


def test_every_benchmark_has_its_section_and_its_row():
    """benchmarks/README.md: one section per script, and a row in the table at the top."""
    readme = (ROOT / "benchmarks" / "README.md").read_text("utf-8")
    scripts = [
        p.name
        for p in sorted((ROOT / "benchmarks").glob("*.py"))
        if "__main__" in p.read_text("utf-8")  # helpers (baseline_app, locustfile) run under one
    ]
    assert len(scripts) > 10
    missing = [
        name
        for name in scripts
        if not re.search(rf"^## .*\(`{re.escape(name)}`\)$", readme, re.M)
        or not re.search(rf"^\| \[`{re.escape(name)}`\]", readme, re.M)
    ]
    assert missing == [], "give each a '## … (`name.py`)' section and a row in the table"
