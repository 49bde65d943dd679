import json

from benchmarks.run_all import render


def test_results_table_lists_every_row_with_its_verdict(tmp_path):
    record = {"benchmark": "bench_x", "date": "2026-11-24", "machine": "test box", "notes": "quiet machine",
              "rows": [{"figure": "speed", "value": "2 s", "bar": "<= 3 s", "passed": True},
                       {"figure": "memory", "value": "5 GB", "bar": "<= 4 GB", "passed": False},
                       {"figure": "ratio", "value": "1.1x", "bar": "", "passed": None}]}
    (tmp_path / "bench_x.json").write_text(json.dumps(record))
    table = render(tmp_path)
    assert "| bench_x | speed | 2 s | <= 3 s | pass | test box | 2026-11-24 |" in table
    assert "| bench_x | memory | 5 GB | <= 4 GB | **FAIL** | test box | 2026-11-24 |" in table
    assert "| bench_x | ratio | 1.1x |  |  | test box | 2026-11-24 |" in table
    assert "- **bench_x**: quiet machine" in table


def test_a_records_seed_study_table_is_shown_whole_after_the_rows(tmp_path):
    """A benchmark that summarises a seed study keeps `evaluation.runs`'s table, placed under its own heading with
    the machine and date, before the notes; a record without one adds no heading."""
    study = "### corpus (BLEU-4)\n\n| run | seed |\n|---|---|\n| seed0 | 0 |\n"
    record = {"benchmark": "bench_y", "date": "2026-12-06", "machine": "test box", "notes": "n",
              "rows": [{"figure": "mean", "value": "23", "bar": "", "passed": None}], "table": study}
    (tmp_path / "bench_y.json").write_text(json.dumps(record))
    page = render(tmp_path)
    heading = page.index("## Seed studies (`python -m evaluation.runs`)")
    assert page.index("| bench_y | mean | 23 |") < heading < page.index(study) < page.index("## Notes")
    assert "bench_y, test box, 2026-12-06:" in page[heading:page.index(study)]
    (tmp_path / "bench_y.json").write_text(json.dumps({**record, "table": ""}))
    assert "Seed studies" not in render(tmp_path)
