"""The recorded fixtures are self-contained: every file under tests/fixtures/ has a provenance row (source,
date, licence), every row names a file that is there, every licence named has its text, and no test reads
the reference folder beside the repo."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.fixtures import FIXTURES, fixture_path, load_json

NOT_FIXTURES = {"PROVENANCE.md", "__init__.py"}
# Licence named in a row -> the texts kept for it (LGPL-3.0 is GPL-3.0 plus additional permissions). Our
# own recordings from the paper exchange are MIT like the project (its LICENSE terms, in pyproject.toml).
LICENCE_TEXTS = {"LGPL-3.0": ["LGPL-3.0.txt", "GPL-3.0.txt"], "GPL-3.0": ["GPL-3.0.txt"],
                 "MIT (Polymarket)": ["MIT-polymarket-py-sdk.txt"], "MIT (polydesk)": []}


def provenance_rows() -> dict[str, list[str]]:
    rows = {}
    for line in (FIXTURES / "PROVENANCE.md").read_text().splitlines():
        match = re.match(r"\| `([^`]+)` \|(.*)\|\s*$", line)
        if match and "/" in match.group(1):
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


def fixture_files() -> set[str]:
    return {str(path.relative_to(FIXTURES)) for path in FIXTURES.rglob("*")
            if path.is_file() and path.name not in NOT_FIXTURES and path.parts[-2] != "licenses"
            and "__pycache__" not in path.parts}


def test_every_fixture_has_exactly_one_provenance_row_and_every_row_a_file():
    rows = provenance_rows()
    assert fixture_files() - set(rows) == set(), "fixtures without a PROVENANCE.md row"
    assert set(rows) - fixture_files() == set(), "PROVENANCE.md rows for files that are not there"


def test_every_row_names_a_source_a_date_and_a_licence_whose_text_is_kept():
    for name, (source, date, licence, what) in provenance_rows().items():
        assert source and date and what, name
        assert licence in LICENCE_TEXTS, f"{name}: licence {licence!r} has no text in licenses/ listed here"
        for text in LICENCE_TEXTS[licence]:
            assert (FIXTURES / "licenses" / text).is_file(), (name, text)


def test_a_missing_fixture_is_an_error_not_a_skip():
    with pytest.raises(FileNotFoundError, match="not-there.json"):
        fixture_path("polymarket-captures/not-there.json")
    assert load_json("polymarket-captures/python-ws/book.json")["event_type"] == "book"


def test_no_test_reads_outside_the_repo():
    tests = Path(__file__).resolve().parents[1]
    outside = re.compile(r"shared/fixtures|\"shared\" / \"fixtures\"|SHARED_REFERENCE|parents\[3\]|\.\./shared")
    offenders = [str(path.relative_to(tests)) for path in tests.rglob("*.py")
                 if path != Path(__file__).resolve() and outside.search(path.read_text())]
    assert offenders == []
