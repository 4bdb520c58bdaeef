"""`newswire annotate`: JSON Lines in, the same records with language, attribution and clusters out."""

from __future__ import annotations

import io
import json

from typer.testing import CliRunner

from newswire.cli import app
from newswire.cli.annotate_commands import annotate_stream

SEED_TRAILER_EVIDENCE = "المصدر : وكالة تسنيم للأنباء"


def records(seed_text: str) -> list[dict]:
    lines = seed_text.splitlines()
    body = "\n".join(lines[1:])
    # The same wire story republished by a paper: retyped hamzas, trailer replaced by a dateline.
    copy = "طهران - تسنيم\n" + "\n".join(lines[1:-2]).replace("أ", "ا").replace("إ", "ا")
    return [
        {"id": "seed", "title": lines[0], "text": body, "source": "tasnim"},
        {"id": "copy", "title": lines[0], "text": copy},
        {"id": "fa-1", "title": "دیدار ظریف و لاوروف در مسکو",
         "text": "وزیر امور خارجه کشورمان امروز برای شرکت در نشست سه‌جانبه آستانه وارد مسکو شد و قرار است با مقامات روسیه و ترکیه دیدار کند."},
    ]


def run_stream(lines: list[str]) -> tuple[list[dict], dict]:
    sink = io.StringIO()
    counts = annotate_stream(io.StringIO("\n".join(lines) + "\n"), sink)
    return [json.loads(line) for line in sink.getvalue().splitlines()], counts


def test_annotates_language_attribution_hash_and_cluster(seed_text):
    out, counts = run_stream([json.dumps(r, ensure_ascii=False) for r in records(seed_text)])
    seed, copy, persian = out
    assert seed["source"] == "tasnim" and seed["text"] == records(seed_text)[0]["text"]  # input kept as is
    assert (seed["language"], seed["language_confidence"], seed["language_flags"]) == ("ar", 1.0, [])
    assert seed["attribution"]["agency_id"] == "tasnim"
    assert seed["attribution"]["evidence"] == SEED_TRAILER_EVIDENCE
    assert seed["cited_agencies"] == ["tasnim"]
    assert copy["attribution"]["agency_id"] == "tasnim" and copy["attribution"]["rule"] == "dateline"
    assert seed["story_cluster"] == copy["story_cluster"] == "copy"  # smallest id of the component
    assert persian["language"] == "fa" and persian["attribution"] is None and persian["story_cluster"] == "fa-1"
    assert len(seed["content_hash"]) == 64
    assert counts["records"] == 3 and counts["errors"] == 0 and counts["story_clusters"] == 2


def test_bad_lines_are_written_back_flagged_and_do_not_stop_the_batch(seed_text):
    good = json.dumps(records(seed_text)[2], ensure_ascii=False)
    out, counts = run_stream(["{not json", good, '["a list"]', '{"id": "x"}', good])
    assert [r.get("annotate_error") for r in out] == [
        "invalid JSON: Expecting property name enclosed in double quotes", None, "not a JSON object",
        'missing or non-text "text"', "duplicate record id 'fa-1' in one batch"]
    assert out[0] == {"line": 1, "annotate_error": out[0]["annotate_error"], "input": "{not json"}
    assert out[1]["language"] == "fa"
    assert counts["errors"] == 4


def test_cli_reads_stdin_and_files_and_is_deterministic(seed_text, tmp_path):
    payload = "\n".join(json.dumps(r, ensure_ascii=False) for r in records(seed_text)) + "\n"
    source = tmp_path / "in.jsonl"
    source.write_text(payload, encoding="utf-8")
    runner = CliRunner()
    from_stdin = runner.invoke(app, ["annotate", "-"], input=payload)
    from_file = runner.invoke(app, ["annotate", str(source)])
    again = runner.invoke(app, ["annotate", str(source)])
    assert from_stdin.exit_code == 0 and from_file.exit_code == 0
    assert from_stdin.stdout == from_file.stdout == again.stdout
    assert [json.loads(line)["story_cluster"] for line in from_file.stdout.splitlines()] == ["copy", "copy", "fa-1"]


def test_cli_missing_file(tmp_path):
    result = CliRunner().invoke(app, ["annotate", str(tmp_path / "absent.jsonl")])
    assert result.exit_code == 2
