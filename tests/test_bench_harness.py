"""The benchmark harness's side-by-side rounds."""

from __future__ import annotations

from benchmarks.harness import alternate


def test_alternate_reverses_the_order_every_other_round_so_no_contender_always_goes_first():
    calls: list[str] = []

    def contender(name: str, figure: float):
        def run() -> float:
            calls.append(name)
            return figure
        return run

    figures = alternate(4, ours=contender("ours", 1.0), raw=contender("raw", 2.0))

    assert calls == ["ours", "raw", "raw", "ours", "ours", "raw", "raw", "ours"]
    assert figures == {"ours": [1.0] * 4, "raw": [2.0] * 4}
