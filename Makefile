# The two set-up commands of the README. Each creates the virtual environment it needs.
.PHONY: demo test lint bench clean

demo:                     ## the demo legacy site with Consentry in front of it
	@scripts/venv.sh .venv speed
	.venv/bin/consentry demo

test:                     ## the whole test suite
	@scripts/venv.sh .venv-test test,mitmproxy
	@scripts/parse5.sh
	.venv-test/bin/python -m pytest

lint:                     ## ruff + mypy, exactly as .ci/run runs them (config: pyproject.toml)
	@scripts/venv.sh .venv-test test,mitmproxy
	.venv-test/bin/ruff check
	.venv-test/bin/mypy

bench:                    ## benchmarks (not tests): HTML rewriter and proxy
	@scripts/venv.sh .venv-test test,mitmproxy,bench
	.venv-test/bin/python bench/bench_html.py
	.venv-test/bin/python bench/bench_proxy.py

clean:
	rm -rf .venv .venv-test build *.egg-info
