"""The paper exchange's boundary: outside code uses only its public entry points, and core/ stands alone.

paperexchange/ is core/ (state and rules), api/ (the wire) and sim/ (scenarios, flow, faults, tapes). Code in
shared/, services/, polydesk/ and bench/ may import `paperexchange` (the names in its `__all__`),
`paperexchange.server`, `paperexchange.replay` (the venue replaying a tape, for backtests) and
`paperexchange.__main__`; anything deeper would tie it to the internal layout.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import paperexchange

REPO = Path(__file__).resolve().parents[2]
OUTSIDE = ("shared", "services", "polydesk", "bench")
PUBLIC_MODULES = {"paperexchange", "paperexchange.server", "paperexchange.replay", "paperexchange.__main__"}
DOTTED_NAME = re.compile(r"paperexchange(\.\w+)+")


def _imports(source: str) -> list[tuple[int, str, list[str]]]:
    """(line, module, imported names) for every absolute import, plus dotted module names given as strings
    (the CLI's command table, importlib calls)."""
    found: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module, [alias.name for alias in node.names]))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and DOTTED_NAME.fullmatch(node.value)
        ):
            found.append((node.lineno, node.value, []))
    return found


def outside_violations(source: str) -> list[str]:
    """What an outside module imports from paperexchange beyond the public entry points."""
    bad = []
    for line, module, names in _imports(source):
        if module != "paperexchange" and not module.startswith("paperexchange."):
            continue
        if module not in PUBLIC_MODULES:
            bad.append(f"line {line}: {module}")
        elif module == "paperexchange":
            bad += [
                f"line {line}: paperexchange.{name}" for name in names if name not in paperexchange.__all__
            ]
    return bad


def test_the_check_flags_internal_imports() -> None:
    source = (
        "import paperexchange.core.engine\n"
        "from paperexchange.api.app import create_app\n"
        "from paperexchange import venue\n"
        "from paperexchange.sim import scenario\n"
        'TABLE = {"px": ("paperexchange.sim.flow", "main")}\n'
        "from paperexchange import Settings, signing\n"
        "from paperexchange.server import PaperExchangeServer\n"
        'CMD = ("paperexchange.__main__", "main")\n'
    )
    assert outside_violations(source) == [
        "line 1: paperexchange.core.engine",
        "line 2: paperexchange.api.app",
        "line 3: paperexchange.venue",
        "line 4: paperexchange.sim",
        "line 5: paperexchange.sim.flow",
    ]


def test_public_names_exist() -> None:
    for name in paperexchange.__all__:
        assert getattr(paperexchange, name) is not None


@pytest.mark.parametrize("package", OUTSIDE)
def test_outside_code_imports_only_public_entry_points(package: str) -> None:
    bad = [
        f"{path.relative_to(REPO)} {violation}"
        for path in sorted((REPO / package).rglob("*.py"))
        for violation in outside_violations(path.read_text())
    ]
    assert not bad, "import these through `paperexchange` / `paperexchange.server` instead:\n" + "\n".join(
        bad
    )


def test_core_imports_nothing_from_api_sim_or_the_assembly() -> None:
    bad = [
        f"{path.relative_to(REPO)} line {line}: {module}"
        for path in sorted((REPO / "paperexchange" / "core").rglob("*.py"))
        for line, module, _ in _imports(path.read_text())
        if module.split(".")[0] == "paperexchange" and module.split(".")[:2] != ["paperexchange", "core"]
    ]
    assert not bad, "core/ must stand alone:\n" + "\n".join(bad)
