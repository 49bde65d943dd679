"""score() with the sclite tool: merging with the STM, totals worked out by hand, reports, bad input, absent sclite."""
import json
import re

import pytest

from evaluation import EvaluationInputError, ground_truth_stm, read_stm, score

STM = (";; comment line\n"
       "v1 1 signer01 0.0 1.79769e+308 A B C D\n"
       "v2 1 signer01 0.0 1.79769e+308 X Y\n"
       "v3 1 signer02 0.0 1.79769e+308 Q\n")
# v1: A loc-C C E d -> A C C E d: S(B->C), I(E) ; v2: absent -> [EMPTY]: D + S ; v3: correct.
CTM = ("v1 1 0.00 0.01 A\nv1 1 0.01 0.02 loc-C\nv1 1 0.02 0.03 C\nv1 1 0.03 0.04 E\nv1 1 0.04 0.05 d\n"
       "v3 1 0.00 0.01 Q\n")


@pytest.fixture
def files(tmp_path):
    (tmp_path / "ref.stm").write_text(STM, encoding="utf-8")
    (tmp_path / "hyp.ctm").write_text(CTM, encoding="utf-8")
    return tmp_path


def test_totals_match_hand_count(files):
    report = score(files / "hyp.ctm", files / "ref.stm", tool="sclite", sclite="/nonexistent/sclite")
    assert (report.substitutions, report.deletions, report.insertions) == (2, 1, 1)
    assert (report.num_sentences, report.num_ref_words) == (3, 7)
    assert report.wer == pytest.approx(400 / 7)
    assert report.sub_rate == pytest.approx(200 / 7)
    assert [s.fileid for s in report.per_sentence] == ["v1", "v2", "v3"]
    assert report.per_sentence[1].hyp_aligned == [None, "[EMPTY]"]


def test_without_sclite_python_score_is_used_and_noted(files):
    report = score(files / "hyp.ctm", files / "ref.stm", tool="sclite", sclite="/nonexistent/sclite", out_dir=files / "out")
    assert not report.sclite_used
    assert "no sclite" in report.note
    saved = json.loads((files / "out" / "hyp.sclite.report.json").read_text(encoding="utf-8"))
    assert saved["substitutions"] == 2 and saved["num_sentences"] == 3
    assert "WER 57.14%" in (files / "out" / "hyp.sclite.report.txt").read_text(encoding="utf-8")
    assert "WER 57.14%" in report.summary_line()


def test_hypothesis_for_unknown_id_names_the_line(files):
    (files / "hyp.ctm").write_text(CTM + "v9 1 0.00 0.01 Q\n", encoding="utf-8")
    with pytest.raises(EvaluationInputError, match=r"hyp\.ctm:7: file id v9 is not in the reference STM"):
        score(files / "hyp.ctm", files / "ref.stm", tool="sclite", sclite="/nonexistent/sclite")


def test_malformed_stm_line_names_the_line(files):
    (files / "ref.stm").write_text(STM + "v4 1 signer02\n", encoding="utf-8")
    with pytest.raises(EvaluationInputError, match=r"ref\.stm:5: expected"):
        score(files / "hyp.ctm", files / "ref.stm", tool="sclite", sclite="/nonexistent/sclite")


def test_duplicate_stm_id_is_refused(files):
    (files / "ref.stm").write_text(STM + "v3 1 signer02 0.0 1.0 Q\n", encoding="utf-8")
    with pytest.raises(EvaluationInputError, match=r"ref\.stm:5: file id v3 already has a segment on line 4"):
        read_stm(files / "ref.stm")


@pytest.mark.parametrize("word", ["(A)", "{", "x{y", "/", "@", "IGNORE_TIME_SEGMENT_IN_SCORING"])
def test_a_reference_word_sclite_gives_a_meaning_is_refused(files, word):
    """Optional, alternation and null words, and the ignored segment: sclite would not score them as words (and a '{'
    inside a word crashes it), so the Python scores would silently differ from sclite's."""
    (files / "ref.stm").write_text(STM + f"v4 1 signer02 0.0 1.0 Q {word}\n", encoding="utf-8")
    with pytest.raises(EvaluationInputError, match=rf"ref\.stm:5: reference word {re.escape(repr(word))}"):
        read_stm(files / "ref.stm")


def test_shipped_dev_stm_has_540_sentences():
    assert len(read_stm(ground_truth_stm("phoenix2014", "dev"))) == 540


def test_missing_ground_truth_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="phoenix2014"):
        ground_truth_stm("phoenix2014", "val")
