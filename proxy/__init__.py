"""Consentry: an edge proxy that enforces privacy consent on HTML as it streams through.

The package is layered so that dependencies point inward: ``proxy.html`` knows only
bytes, ``proxy.catalogue`` / ``proxy.consent`` / ``proxy.policy`` know no HTTP,
``proxy.engine`` joins them, and ``proxy.server`` (aiohttp) and
``addons/consentry.py`` (mitmproxy) are thin adapters.

The version check below runs before any module written for Python 3.12 is imported,
so an older interpreter gets one line instead of a SyntaxError; it is written in
syntax every Python since 2.7 can read.
"""

import os as _os
import sys as _sys

__version__ = "0.1.0"

REQUIRES_PYTHON = (3, 12)


def _python_too_old(version_info, executable):
    """The one-line message for an interpreter older than REQUIRES_PYTHON, else None."""
    if tuple(version_info[:2]) >= REQUIRES_PYTHON:
        return None
    return (
        "consentry needs Python %d.%d or newer; this is Python %d.%d.%d (%s). "
        "Run it from a virtual environment made by scripts/venv.sh (it finds a new enough Python), "
        "or install Python 3.12+ (e.g. pyenv install 3.12)."
        % (REQUIRES_PYTHON + tuple(version_info[:3]) + (executable or "python",))
    )


_message = _python_too_old(_sys.version_info, _sys.executable)
if _message is not None:
    _argv0 = _os.path.basename(_sys.argv[0]) if _sys.argv and _sys.argv[0] else ""
    # While ``python -m`` imports the package, argv[0] is "-m" (Python 2: "-c").
    _command = ("consentry", "-m", "__main__.py") + (("-c",) if _sys.version_info[0] < 3 else ())
    if _argv0 in _command or _argv0.startswith("consentry"):
        # Run as the command (console script or python -m proxy): one line, no traceback.
        _sys.stderr.write(_message + "\n")
        raise SystemExit(69)
    raise ImportError(_message)
