"""The official Python scorer: merge_same, exact comparison, its tie-breaking and its `*` counting, worked by hand.

Every expectation below was worked out from the rules of the official
python_wer_evaluation.py (costs: substitution 4, deletion 3, insertion 3; on a
mismatch the first cheapest of substitution, deletion, insertion; a match takes
the diagonal) and checked against that script.
"""
import pytest

from evaluation import align, python_align, score
from evaluation.python_wer import merge_same


def ops(alignment):
    return [(p.op, p.ref, p.hyp) for p in alignment.pairs]


def counts(alignment):
    return alignment.substitutions, alignment.deletions, alignment.insertions, alignment.num_ref_words


def test_repeated_hypothesis_glosses_are_merged_first():
    assert merge_same(["A", "A", "B", "A", "A"]) == ["A", "B", "A"]
    assert counts(python_align(["A", "B"], ["A", "A", "B"])) == (0, 0, 0, 2)
    assert counts(align(["A", "B"], ["A", "A", "B"])) == (0, 0, 1, 2)  # sclite keeps the repeat: an insertion


def test_glosses_compare_exactly():
    assert counts(python_align(["regen"], ["REGEN"])) == (1, 0, 0, 1)
    assert counts(align(["regen"], ["REGEN"])) == (0, 0, 0, 1)  # sclite folds ASCII case


def test_deletion_is_preferred_to_insertion_on_a_tie():
    # ref A B / hyp B A. Cell (B, A): substitution 3+4=7, deletion 3+3=6, insertion 3+3=6 -> deletion (listed
    # first); then A matches A, and the hypothesis word left over (B) is an insertion.
    assert ops(python_align(["A", "B"], ["B", "A"])) == [("I", None, "B"), ("C", "A", "A"), ("D", "B", None)]
    # sclite, tracing back, prefers the insertion: same counts, other pairs.
    assert ops(align(["A", "B"], ["B", "A"])) == [("D", "A", None), ("C", "B", "B"), ("I", None, "A")]


def test_substitution_is_preferred_on_a_tie_and_can_change_the_error_count():
    # Both alignments cost 15: the official one (3 S + 1 D, 2 correct) has 4 errors, sclite's (3 D + 2 I,
    # 3 correct) has 5, because the Python scorer takes the substitution whenever it ties.
    ref, hyp = "C C A B B A".split(), "A B A C B".split()
    official = python_align(ref, hyp)
    assert ops(official) == [("S", "C", "A"), ("S", "C", "B"), ("C", "A", "A"), ("S", "B", "C"), ("C", "B", "B"),
                             ("D", "A", None)]
    assert counts(official) == (3, 1, 0, 6)
    sclite = align(ref, hyp)
    assert (sclite.substitutions, sclite.deletions, sclite.insertions) == (0, 3, 2)
    assert 4 * 3 + 3 * 1 == 3 * 3 + 3 * 2 == 15


def test_empty_hypothesis_marker_is_a_word():
    # ref A B C / hyp [EMPTY]: S(A) costs 4 at (1,1); at (2,1) and (3,1) substitution and deletion tie at 7 and
    # 10, so the substitution is taken at (3,1) and the trace-back leaves A and B as deletions.
    assert ops(python_align(["A", "B", "C"], ["[EMPTY]"])) == [("D", "A", None), ("D", "B", None),
                                                               ("S", "C", "[EMPTY]")]


def test_star_padding_is_counted_as_the_official_script_does():
    # A reference word containing '*' is not counted in N; an inserted all-'*' word equals its padding.
    assert counts(python_align(["A", "B*"], ["A", "B*"])) == (0, 0, 0, 1)
    inserted = python_align(["A"], ["A", "**"])
    assert ops(inserted) == [("C", "A", "A"), ("I", None, "**")]
    assert counts(inserted) == (0, 0, 0, 1)


def test_empty_reference_makes_every_hypothesis_word_an_insertion():
    assert counts(python_align([], ["A", "B"])) == (0, 0, 2, 0)


STM = ("v1 1 signer01 0.0 1.79769e+308 A B C D\n"
       "v2 1 signer01 0.0 1.79769e+308 X Y\n"
       "v3 1 signer02 0.0 1.79769e+308 Q Q\n")
# v1 repeats B (merged by the Python tool only), v2 has no hypothesis ([EMPTY]), v3 misses one Q.
CTM = ("v1 1 0.00 0.01 A\nv1 1 0.01 0.02 B\nv1 1 0.02 0.03 B\nv1 1 0.03 0.04 C\n"
       "v3 1 0.00 0.01 Q\n")


@pytest.fixture
def files(tmp_path):
    (tmp_path / "ref.stm").write_text(STM, encoding="utf-8")
    (tmp_path / "hyp.ctm").write_text(CTM, encoding="utf-8")
    return tmp_path


def test_score_with_the_python_tool(files):
    report = score(files / "hyp.ctm", files / "ref.stm", tool="python", out_dir=files / "out")
    # v1: A B C vs A B C D -> D(D); v2: [EMPTY] vs X Y -> S + D; v3: Q vs Q Q -> D.
    assert (report.substitutions, report.deletions, report.insertions) == (1, 3, 0)
    assert report.num_ref_words == 8
    assert report.wer == pytest.approx(50.0)
    assert report.tool == "python" and "official python scorer" in report.summary_line()
    assert (files / "out" / "hyp.python.report.json").is_file()


def test_score_with_the_sclite_tool_keeps_the_repeat(files):
    report = score(files / "hyp.ctm", files / "ref.stm", tool="sclite", sclite="/nonexistent/sclite")
    # v1: A B B C vs A B C D: C C S(C->B) S(D->C) costs 8 = C C I(B) C D(D) costs 6 -> the latter: I + D.
    assert (report.substitutions, report.deletions, report.insertions) == (1, 3, 1)
    assert report.wer == pytest.approx(62.5)


def test_final_line_without_newline_loses_its_last_letter_as_officially(tmp_path):
    (tmp_path / "ref.stm").write_text("v1 1 s 0.0 1.79769e+308 A B\nv2 1 s 0.0 1.79769e+308 C DD", encoding="utf-8")
    (tmp_path / "hyp.ctm").write_text("v1 1 0.00 0.01 A\nv1 1 0.01 0.02 B\nv2 1 0.00 0.01 C\nv2 1 0.01 0.02 DD\n",
                                      encoding="utf-8")
    python = score(tmp_path / "hyp.ctm", tmp_path / "ref.stm", tool="python")
    assert python.per_sentence[1].ref_aligned == ["C", "D"]  # official `line[:-1]` on a line without "\n"
    assert python.substitutions == 1
    assert score(tmp_path / "hyp.ctm", tmp_path / "ref.stm", tool="sclite", sclite="/nonexistent").errors == 0


@pytest.mark.parametrize("split", ["dev", "test"])
def test_a_perfect_hypothesis_on_the_released_phoenix2014_stm(tmp_path, split):
    """The released STM ends without a newline and repeats glosses: the official Python scorer cannot give 0."""
    from evaluation import ground_truth_stm, read_stm, write_ctm

    stm = ground_truth_stm("phoenix2014", split)
    references = read_stm(stm)
    write_ctm(tmp_path / "perfect.ctm", {fileid: list(s.words) for fileid, s in references.items()})
    repeats = sum(a == b for s in references.values() for a, b in zip(s.words, s.words[1:]))
    assert not stm.read_bytes().endswith(b"\n")
    python = score(tmp_path / "perfect.ctm", stm, tool="python")
    assert (python.substitutions, python.deletions, python.insertions) == (1, repeats, 0)
    assert score(tmp_path / "perfect.ctm", stm, tool="sclite", sclite="/nonexistent").errors == 0
