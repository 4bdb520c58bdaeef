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
