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
