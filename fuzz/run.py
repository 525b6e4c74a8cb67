"""Run one fuzz target under atheris (libFuzzer): ``python -m fuzz.run TARGET [libFuzzer flags]``.

Examples (docs/security.md has the campaign's figures)::

    python -m fuzz.run html -runs=100000 fuzz/corpus/html
    python -m fuzz.run response -max_total_time=600 -print_final_stats=1 fuzz/corpus/response

A crash or broken invariant stops the run and writes ``crash-<sha1>`` with the input.

Only the packages a target exercises are instrumented (``INSTRUMENTED``, found by tracing
each target over its corpus): libFuzzer clears and scans every coverage counter after
every execution, so counters for the rest of ``proxy`` (the server, the engine, the
catalogue...) cost the fast targets time and find nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

# Per target, the modules (and their submodules) whose code it runs: all of proxy.html
# for html (the scanner, rewriter, fetch rules, CSS, charrefs, encodings...).
INSTRUMENTED: dict[str, tuple[str, ...]] = {
    "html": ("proxy.html",),
    "url": ("proxy.urls",),
    "css": ("proxy.html.css",),
    "consent": ("proxy.consent",),
    "policy": ("proxy.policy", "proxy.catalogue"),   # catalogue: a policy's `catalogues` are loaded
    "response": ("proxy.response", "proxy.server.headers"),
}


def _module_names() -> list[str]:
    """Every module of the ``proxy`` package, from its files (importing would instrument nothing)."""
    spec = importlib.util.find_spec("proxy")
    assert spec is not None and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations)))
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = ("proxy", *path.relative_to(root).with_suffix("").parts)
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _covers(prefixes: tuple[str, ...], name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def main() -> None:
    import atheris

    if len(sys.argv) < 2 or sys.argv[1] not in INSTRUMENTED:
        raise SystemExit(f"usage: python -m fuzz.run {{{','.join(INSTRUMENTED)}}} [libFuzzer flags] [corpus dir]")
    name = sys.argv.pop(1)
    prefixes = INSTRUMENTED[name]
    names = _module_names()
    exclude = [module for module in names if not _covers(prefixes, module)]
    with atheris.instrument_imports(include=["proxy"], exclude=exclude):
        # Every module under the prefixes now, so none is first imported (uninstrumented)
        # lazily by a target later.
        for module in names:
            if _covers(prefixes, module):
                importlib.import_module(module)
        from fuzz.targets import TARGETS
    target = TARGETS[name]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
