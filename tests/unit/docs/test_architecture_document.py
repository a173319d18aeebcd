"""docs/architecture.md is the design the repository cites, and every section cited exists.

The brief qunping was first built against is kept outside the repository; the code points to
its own design document instead, by section anchor (`docs/architecture.md#9-receipt-free`).
"""

import re
import subprocess
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[3]
ARCHITECTURE = REPOSITORY / "docs" / "architecture.md"
OUTSIDE_BRIEF = "DESIGN" + ".md"
"""Spelt in two parts, so that this file does not cite the brief either."""
SECTION_REFERENCE = re.compile(r"architecture\.md#([\w-]+)")
LINK_WITHIN_THE_DOCUMENT = re.compile(r"\]\(#([\w-]+)\)")
HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)


def tracked_files() -> list[Path]:
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPOSITORY, capture_output=True, check=True
    )
    paths = (REPOSITORY / name for name in listing.stdout.decode().split("\0") if name)
    return [path for path in paths if path.is_file()]


def anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def sections() -> set[str]:
    return {anchor(heading) for heading in HEADING.findall(ARCHITECTURE.read_text("utf-8"))}


def test_no_tracked_file_cites_the_brief_kept_outside_the_repository() -> None:
    citing = [
        str(path.relative_to(REPOSITORY))
        for path in tracked_files()
        if OUTSIDE_BRIEF.encode() in path.read_bytes()
    ]

    assert citing == [], f"cite docs/architecture.md instead of {OUTSIDE_BRIEF}"


def test_every_section_of_the_architecture_document_cited_exists() -> None:
    cited = {
        (str(path.relative_to(REPOSITORY)), section)
        for path in tracked_files()
        for section in SECTION_REFERENCE.findall(path.read_bytes().decode("utf-8", "replace"))
    }
    cited |= {
        ("docs/architecture.md", section)
        for section in LINK_WITHIN_THE_DOCUMENT.findall(ARCHITECTURE.read_text("utf-8"))
    }

    missing = sorted((path, section) for path, section in cited if section not in sections())
    assert cited, "the code cites sections of docs/architecture.md"
    assert missing == []
