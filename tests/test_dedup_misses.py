"""benchmarks/dedup_misses.py names the step where a wrong pair went wrong (handwritten texts)."""

from __future__ import annotations

import json
from collections import Counter

from benchmarks.dedup_misses import main, one_batch_errors
from pipelines.evaluation import dedup as dedup_evaluation

TEXTS = {f"hand:{row['doc_id']}": row["text"]
         for row in map(json.loads, dedup_evaluation.TEXTS.read_text("utf-8").splitlines())}


def _pair(a: str, b: str, same_story: bool) -> dict:
    return {"pair_id": f"{a}-{b}", "a": {"handwritten": a}, "b": {"handwritten": b}, "same_story": same_story}


def test_each_wrong_pair_is_put_at_the_step_that_lost_or_made_it(capsys):
    pairs = [
        _pair("h1a", "h1b", False),  # a retyped copy: confirmed, so a false positive of confirmation
        _pair("h1a", "h1d", True),   # the template's other country: a candidate the check rejects
        _pair("h1a", "h3c", True),   # oil and gold prices: never a candidate
        _pair("h2a", "h2b", True),   # right, so not printed
    ]
    steps = one_batch_errors(pairs, sorted(TEXTS.items()))
    assert steps == Counter({("false positive", "confirmation"): 1, ("miss", "confirmation"): 1,
                             ("miss", "candidates"): 1})
    printed = capsys.readouterr().out
    assert "h1a-h3c" in printed and "h2a-h2b" not in printed


def test_held_out_splits_cannot_be_asked_for(capsys):
    try:
        main(["--split", "heldout"])
    except SystemExit as stop:
        assert stop.code == 2
    else:
        raise AssertionError("the held-out split was accepted")
    assert "invalid choice" in capsys.readouterr().err
