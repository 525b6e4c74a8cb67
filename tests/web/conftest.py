"""Lets the tests here import their helpers (web_browser, web_harness) by plain name.

pytest runs with --import-mode=importlib, which puts no test directory on sys.path.
"""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
