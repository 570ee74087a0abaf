"""fairaudit against bob.measure and pyeer (tools/peer_check.py, and tools/peer_identification.py for
1:N identification), when a Python with both is at hand.

bob.measure and pyeer need numpy < 2, so they live in a second environment: ``FAIRAUDIT_PEER_PYTHON``,
else ``/tmp/peer/bin/python`` or ``.venv-peer/bin/python`` (what ``.ci/run`` creates). Skipped otherwise.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "peer_check.py"
IDENTIFICATION_TOOL = ROOT / "tools" / "peer_identification.py"


def _peer_python() -> str | None:
    candidates = [os.environ.get("FAIRAUDIT_PEER_PYTHON"), "/tmp/peer/bin/python", str(ROOT / ".venv-peer/bin/python")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    return None


PEER = _peer_python()


@pytest.mark.skipif(PEER is None, reason="no Python with bob.measure and pyeer (set FAIRAUDIT_PEER_PYTHON)")
def test_rates_match_bob_measure_and_pyeer(tmp_path):
    gen = subprocess.run([sys.executable, str(TOOL), "generate", str(tmp_path)], capture_output=True, text=True)
    assert gen.returncode == 0, gen.stderr
    cmp = subprocess.run([PEER, "-W", "ignore", str(TOOL), "compare", str(tmp_path)], capture_output=True, text=True)
    mismatches = [line for line in cmp.stdout.splitlines() if line.endswith("MISMATCH")]
    assert cmp.returncode == 0 and not mismatches, "\n".join(mismatches) or cmp.stderr
    assert " 0 mismatches" in cmp.stdout.splitlines()[-1]


@pytest.mark.skipif(PEER is None, reason="no Python with bob.measure (set FAIRAUDIT_PEER_PYTHON)")
def test_identification_rates_match_bob_measure(tmp_path):
    gen = subprocess.run([sys.executable, str(IDENTIFICATION_TOOL), "generate", str(tmp_path)], capture_output=True,
                         text=True)
    assert gen.returncode == 0, gen.stderr
    cmp = subprocess.run([PEER, "-W", "ignore", str(IDENTIFICATION_TOOL), "compare", str(tmp_path)],
                         capture_output=True, text=True)
    mismatches = [line for line in cmp.stdout.splitlines() if line.endswith("MISMATCH")]
    assert cmp.returncode == 0 and not mismatches, "\n".join(mismatches) or cmp.stderr
    assert " 0 mismatches" in cmp.stdout.splitlines()[-1]
