"""Run one fuzz target under atheris (libFuzzer): ``python -m fuzz.run TARGET [libFuzzer flags]``.

Examples (docs/security.md has the campaign's figures)::

    python -m fuzz.run html -runs=100000 fuzz/corpus/html
    python -m fuzz.run response -max_total_time=600 -print_final_stats=1 fuzz/corpus/response

A crash or broken invariant stops the run and writes ``crash-<sha1>`` with the input.
"""

from __future__ import annotations

import sys


def main() -> None:
    import atheris

    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m fuzz.run TARGET [libFuzzer flags] [corpus dir]")
    name = sys.argv.pop(1)
    with atheris.instrument_imports(include=["proxy"]):
        from fuzz.targets import TARGETS

        import proxy.consent  # noqa: F401
        import proxy.html  # noqa: F401
        import proxy.policy  # noqa: F401
        import proxy.response.plan  # noqa: F401
        import proxy.server.headers  # noqa: F401
        import proxy.urls  # noqa: F401
    target = TARGETS[name]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
