"""An interpreter older than 3.12 gets one line and exit 69, never a SyntaxError.

Run for real with every older CPython found in pyenv or on PATH (skipped with the
reason when there is none), as ``python -m proxy``, as the console script starts it
and as a library import; and simulated on this interpreter, which always runs.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import proxy

ROOT = Path(__file__).resolve().parent.parent


def old_pythons() -> list[str]:
    """CPython 3.11 and older from pyenv (PYENV_ROOT, `pyenv root`, ~/.pyenv) or PATH."""
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")]
    if shutil.which("pyenv"):
        roots.append(subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False).stdout.strip())
    found = {path for root in roots if root for path in glob.glob(f"{root}/versions/[23].*/bin/python")}
    found |= {p for name in ("python3.11", "python3.10", "python3.9") if (p := shutil.which(name))}
    old: dict[tuple[int, int], str] = {}
    for path in sorted(found):
        result = subprocess.run([path, "-c", "import sys; print('%d %d' % sys.version_info[:2])"],
                                capture_output=True, text=True, check=False, timeout=30)
        parts = result.stdout.split()
        if result.returncode == 0 and len(parts) == 2 and (int(parts[0]), int(parts[1])) < (3, 12):
            old.setdefault((int(parts[0]), int(parts[1])), path)
    # The newest old one (what people have) and the oldest (the guard's syntax must parse there).
    ordered = [old[key] for key in sorted(old)]
    return sorted({ordered[-1], ordered[0]}) if ordered else []


OLD = old_pythons()


@pytest.mark.skipif(not OLD, reason="no Python older than 3.12 found (pyenv or PATH); the simulated test covers the guard")
@pytest.mark.parametrize("python", OLD)
def test_an_old_interpreter_gets_one_line(python):
    for argv in (["-m", "proxy", "--version"], ["-m", "proxy", "run", "--upstream", "http://127.0.0.1:1"]):
        result = subprocess.run([python, *argv], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
        assert result.returncode == 69, result.stderr
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("consentry needs Python 3.12 or newer; this is Python "), lines
    # As the console script starts it (pip install --ignore-requires-python): argv[0] is .../consentry.
    code = "import sys; sys.argv = ['/venv/bin/consentry', '--version']; from proxy.cli import main; main()"
    result = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert result.returncode == 69 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    # Imported as a library: an ImportError with the same message (Python 2 cannot tell
    # `-c` from `-m` while importing, so it gets the one line there too).
    result = subprocess.run([python, "-c", "import proxy"], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert "consentry needs Python 3.12 or newer" in result.stderr
    if "versions/2." not in python and "python2" not in python:
        assert result.returncode == 1 and "ImportError: consentry needs" in result.stderr


def test_guard_simulated():
    assert proxy._python_too_old((3, 12, 0), "/x/python") is None
    assert proxy._python_too_old((3, 13, 1), "/x/python") is None
    message = proxy._python_too_old((3, 11, 9), "/usr/bin/python3.11")
    assert message is not None and "\n" not in message
    assert message.startswith("consentry needs Python 3.12 or newer; this is Python 3.11.9 (/usr/bin/python3.11).")
    assert "scripts/venv.sh" in message


def test_package_metadata_requires_312():
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["project"]["requires-python"] == ">=3.12"
    assert tuple(int(p) for p in data["project"]["requires-python"][2:].split(".")) == proxy.REQUIRES_PYTHON
