"""sclite-identical alignment: counts and aligned pairs worked out by hand."""
from evaluation.alignment import align


def counts(ref: str, hyp: str) -> tuple[int, int, int, int]:
    a = align(ref.split(), hyp.split())
    return a.correct, a.substitutions, a.deletions, a.insertions


def test_identical_sentences_have_no_errors():
    assert counts("A B C", "A B C") == (3, 0, 0, 0)


def test_one_substitution_is_cheaper_than_deletion_plus_insertion():
    # S costs 4, D+I costs 6.
    assert counts("A B C", "A X C") == (2, 1, 0, 0)


def test_empty_hypothesis_deletes_every_reference_word():
    assert counts("A B C", "") == (0, 0, 3, 0)


def test_empty_reference_inserts_every_hypothesis_word():
    assert counts("", "A B") == (0, 0, 0, 2)


def test_comparison_ignores_ascii_case():
    assert counts("Regen Sonne", "REGEN sonne") == (2, 0, 0, 0)


def test_shift_is_scored_as_deletion_plus_insertion():
    # "A B C D" vs "B C D A": delete A, match B C D, insert A (3+3=6) beats four substitutions (16).
    assert counts("A B C D", "B C D A") == (3, 0, 1, 1)


def test_tie_prefers_substitution_at_the_end_then_insertion_before_deletion():
    # "X Y" vs "[EMPTY]": S+D and D+S both cost 7; tracing back from the end sclite takes
    # the diagonal first, so Y is substituted and X deleted.
    a = align(["X", "Y"], ["[EMPTY]"])
    assert [(p.op, p.ref, p.hyp) for p in a.pairs] == [("D", "X", None), ("S", "Y", "[EMPTY]")]


def test_equal_cost_alignments_with_different_counts_pick_sclites():
    # ref "A B", hyp "B A": C+D+I ("*A B" / "B A*") costs 6, two substitutions cost 8.
    # Among the cost-6 paths, insertion-before-deletion on the way back gives
    # ref  A  B  *      hyp  *  B  A  -> D, C, I.
    a = align(["A", "B"], ["B", "A"])
    assert [p.op for p in a.pairs] == ["D", "C", "I"]
