"""PHOENIX normalisation rules, one behaviour each, expected values written by hand."""
import pytest

from evaluation.normalise import normalise_hypothesis


def test_prefixes_and_spelling_fixes_are_applied_per_gloss():
    glosses = ["loc-REGION", "cl-KOMMEN", "S0NNE", "HABEN2", "poss-EUCH", "lh-GUT", "qu-WAS"]
    assert normalise_hypothesis(glosses) == ["REGION", "KOMMEN", "SONNE", "HABEN", "EUCH", "GUT", "WAS"]


def test_markers_and_epenthesis_are_dropped():
    assert normalise_hypothesis(["__EMOTION__", "REGEN", "__PU__", "__EPENTHESIS__", "__LEFTHAND__"]) == ["REGEN"]


def test_zeigen_ending_gets_bildschirm_and_raum_and_plusplus_go():
    assert normalise_hypothesis(["ZEIGEN", "WALDRAUM", "REGEN-PLUSPLUS"]) == ["ZEIGEN-BILDSCHIRM", "WALD", "REGEN"]


def test_nothing_left_becomes_empty_marker():
    assert normalise_hypothesis(["__EPENTHESIS__", "__PU__"]) == ["[EMPTY]"]
    assert normalise_hypothesis([]) == ["[EMPTY]"]


def test_official_ctm_lines_never_join_two_glosses():
    # The official sed runs on one-gloss CTM lines: multi-gloss rules cannot fire.
    assert normalise_hypothesis(["WIE", "AUSSEHEN", "A", "B", "REGEN", "REGEN"]) == [
        "WIE", "AUSSEHEN", "A", "B", "REGEN", "REGEN"]


def test_sentence_scope_applies_multi_gloss_rules():
    assert normalise_hypothesis(["WIE", "AUSSEHEN", "REGEN", "REGEN"], scope="sentence") == ["WIE-AUSSEHEN", "REGEN"]
    assert normalise_hypothesis(["HEUTE", "A", "B", "C", "MORGEN"], scope="sentence") == ["HEUTE", "A+B+C", "MORGEN"]


def test_chinese_glosses_pass_through_unchanged():
    assert normalise_hypothesis(["他", "今天", "年龄", "4"], dataset="CSL-Daily") == ["他", "今天", "年龄", "4"]


def test_unknown_dataset_is_refused():
    with pytest.raises(ValueError, match="unknown dataset"):
        normalise_hypothesis(["A"], dataset="phoenix2015")
