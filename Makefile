# The two commands of the README. Both set up everything from a clean clone first.
.PHONY: demo test setup setup-test engine-stop airflow

demo: setup
	.venv/bin/newswire demo

test: setup-test
	.venv/bin/pytest

setup:
	bash infra/setup.sh

setup-test:
	bash infra/setup.sh --test

engine-stop:
	.venv/bin/newswire engine stop

airflow: setup
	.venv/bin/newswire airflow-local

# Issue 12's benchmarks: every figure as a ratio against its baseline, measured in the same run
# (needs ../shared/data; see benchmarks/README.md). bench-quick: 300 articles.
.PHONY: bench bench-quick
bench: setup
	PYTHONPATH=$(CURDIR) .venv/bin/python benchmarks/bench_suite.py $(BENCH_ARGS)

bench-quick: setup
	PYTHONPATH=$(CURDIR) .venv/bin/python benchmarks/bench_suite.py --quick
