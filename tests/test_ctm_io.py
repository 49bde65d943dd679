"""CTM writing (official timing) and strict reading."""
import pytest

from evaluation.ctm import read_ctm, write_ctm
from evaluation.input_lines import EvaluationInputError


def test_write_ctm_uses_official_timing(tmp_path):
    path = tmp_path / "h.ctm"
    write_ctm(path, {"v1": ["A", "B"], "v2": [], "v3": ["C"]})
    assert path.read_text(encoding="utf-8") == "v1 1 0.00 0.01 A\nv1 1 0.01 0.02 B\nv3 1 0.00 0.01 C\n"


def test_read_ctm_skips_comments_and_keeps_order(tmp_path):
    path = tmp_path / "h.ctm"
    path.write_text(";; header\nv1 1 0.00 0.01 A\n\nv1 1 0.01 0.02 B 0.9\n", encoding="utf-8")
    assert [(w.fileid, w.word, w.line_number) for w in read_ctm(path)] == [("v1", "A", 2), ("v1", "B", 4)]


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "h.ctm"
    path.write_text("v1 1 0.00 0.01 A\nv1 1 0.01 B\n", encoding="utf-8")
    with pytest.raises(EvaluationInputError, match=r"h\.ctm:2: expected"):
        read_ctm(path)


def test_non_numeric_time_names_the_line(tmp_path):
    path = tmp_path / "h.ctm"
    path.write_text("v1 1 zero 0.01 A\n", encoding="utf-8")
    with pytest.raises(EvaluationInputError, match=r"h\.ctm:1: start time 'zero'"):
        read_ctm(path)


def test_mixed_encoding_names_the_line(tmp_path):
    path = tmp_path / "h.ctm"
    path.write_bytes("v1 1 0.00 0.01 ÄRGER\n".encode("utf-8") + "v1 1 0.01 0.02 ÄRGER\n".encode("latin-1"))
    with pytest.raises(EvaluationInputError, match=r"h\.ctm:2: not valid UTF-8"):
        read_ctm(path)
