"""`polydesk signal <market> <probability>` refuses what is not a probability with one clear line and exit 2,
before touching Redis (issue 15 #6: NaN ended in a decimal.InvalidOperation traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.processes  # starts polydesk processes: not in make test-fast

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("value", "complaint"), [
    ("NaN", "not a probability: 'NaN'"), ("sNaN", "not a probability: 'sNaN'"),
    ("Infinity", "not a probability: 'Infinity'"),
    ("1.5", "a probability lies in [0, 1], not 1.5"), ("abc", "not a number: 'abc'"),
])
def test_a_value_that_is_not_a_probability_is_a_clear_error(value, complaint, tmp_path):
    result = subprocess.run([sys.executable, "-m", "polydesk", "signal", "0xmarket", value], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert complaint in result.stderr.strip().splitlines()[-1]
