"""Five unattended nights with a fault on each of the first four (the short version of
benchmarks/thirty_nights.py, issue 10): real Airflow (dag.test per night), a private engine,
a local site publishing new articles every night, no manual step between nights.

Night 1 engine down, night 2 site answering 503, night 3 crawl SIGKILLed mid-run, night 4 engine
refusing writes, night 5 clean; broken pages (empty, binary, PDF as HTML) on nights 1, 3 and 5.
"""

from __future__ import annotations

import pytest

from benchmarks import thirty_nights

pytestmark = [pytest.mark.airflow, pytest.mark.engine]

NIGHTS, PER_NIGHT = 5, 5
ENGINE_PORT = 9481  # private: the faults stop this node and block its writes


@pytest.fixture(scope="module")
def report(airflow_db, tmp_path_factory) -> dict:
    figures = thirty_nights.simulate(tmp_path_factory.mktemp("nights"), NIGHTS, PER_NIGHT, demo=True,
                                     compress=False, engine_port=ENGINE_PORT)
    thirty_nights.print_report(figures, figures["wall_seconds"])  # shown with -s or on failure
    return figures


def _night(report: dict, fault: str) -> dict:
    [night] = [n for n in report["per_night"] if n["fault"] == fault]
    return night


def test_the_faults_were_injected_and_no_manual_step_was_taken(report):
    assert report["nights"] == NIGHTS and report["manual_steps"] == 0
    assert report["faulted_nights"] == {1: "engine_down", 2: "site_5xx", 3: "crawl_killed", 4: "writes_refused"}
    assert report["published"] == NIGHTS * PER_NIGHT + 3
    assert len(_night(report, "crawl_killed")["killed_pids"]) == 1  # a crawl subprocess really was killed
    assert _night(report, "engine_down")["process"] == "failed"
    assert _night(report, "site_5xx")["crawl"] == "failed"
    assert _night(report, "crawl_killed")["crawl"] == "failed"


def test_every_red_run_was_notified(report):
    assert report["red_runs"] >= 3
    assert report["red_runs_not_notified"] == []
    assert report["notifications"] >= report["red_runs"]


def test_a_night_the_engine_refuses_writes_is_red(report):
    assert _night(report, "writes_refused")["process"] == "failed"
    assert report["faulted_nights_green"] == []


def test_no_article_is_indexed_twice(report):
    assert report["duplicated"] == 0
    assert report["not_published_but_indexed"] == []


def test_no_article_is_lost(report):
    assert report["lost"] == []
    assert report["indexed"] == NIGHTS * PER_NIGHT


def test_the_dead_letters_hold_exactly_the_broken_pages(report):
    assert report["broken_not_dead_lettered"] == []
    assert report["good_articles_dead_lettered"] == []
    assert report["dead_lettered_ids"] == report["published_broken"]
    assert report["dead_lettered"] == 3
