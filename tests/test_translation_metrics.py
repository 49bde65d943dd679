"""Translation scores (translation/metrics.py) against independent computations."""
import math
from collections import Counter

import pytest

from translation.metrics import longest_common_subsequence, rouge_l, score_translations

REFERENCES = ["am tag scheint die sonne im norden", "morgen regnet es im süden", "es wird kalt"]
HYPOTHESES = ["am tag scheint die sonne im westen", "morgen regen im süden", "es wird sehr kalt heute"]


def corpus_bleu_by_hand(references, hypotheses, order):
    """Papineni et al.'s corpus BLEU-`order`: clipped n-gram precisions pooled over the corpus, their geometric
    mean, and the brevity penalty on the summed lengths."""
    log_sum = 0.0
    for n in range(1, order + 1):
        matches = total = 0
        for reference, hypothesis in zip(references, hypotheses):
            ref, hyp = reference.split(), hypothesis.split()
            ref_ngrams = Counter(tuple(ref[i:i + n]) for i in range(len(ref) - n + 1))
            hyp_ngrams = Counter(tuple(hyp[i:i + n]) for i in range(len(hyp) - n + 1))
            matches += sum(min(count, ref_ngrams[gram]) for gram, count in hyp_ngrams.items())
            total += sum(hyp_ngrams.values())
        log_sum += math.log(matches / total)
    hyp_length = sum(len(h.split()) for h in hypotheses)
    ref_length = sum(len(r.split()) for r in references)
    penalty = 1.0 if hyp_length > ref_length else math.exp(1 - ref_length / hyp_length)
    return 100 * penalty * math.exp(log_sum / order)


def test_bleu_1_to_4_are_the_corpus_bleu_of_each_order():
    scores = score_translations(REFERENCES, HYPOTHESES)
    for order in range(1, 5):
        assert scores.bleu[order - 1] == pytest.approx(corpus_bleu_by_hand(REFERENCES, HYPOTHESES, order), rel=1e-9)
    assert "tok:none" in scores.signatures["bleu"] and "tok:13a" in scores.signatures["bleu_13a"]


def test_bleu_takes_the_text_as_tokenised_while_13a_splits_punctuation():
    """The anchors' procedure scores 'kalt.' and 'kalt' as different words; sacreBLEU's 13a tokeniser does not."""
    scores = score_translations(["es wird kalt ."], ["es wird kalt."])
    assert scores.bleu[0] < 100.0 and scores.bleu4_13a == pytest.approx(100.0)


def test_identical_text_scores_100_everywhere():
    scores = score_translations(REFERENCES, REFERENCES)
    assert scores.bleu == pytest.approx([100.0] * 4) and scores.rouge == pytest.approx(100.0)
    assert scores.chrf == pytest.approx(100.0) and scores.bleu4_13a == pytest.approx(100.0)


def test_rouge_l_is_the_mean_sentence_f_score_with_beta_1_2():
    # sentence 1: LCS "am tag scheint die sonne im" (6) of 7 and 7 words; sentence 2: "morgen im süden" 3 of 4 and 5;
    # sentence 3: "es wird kalt" 3 of 5 and 3
    def f(lcs, hyp, ref, beta=1.2):
        p, r = lcs / hyp, lcs / ref
        return (1 + beta ** 2) * p * r / (r + beta ** 2 * p)

    expected = 100 * (f(6, 7, 7) + f(3, 4, 5) + f(3, 5, 3)) / 3
    assert rouge_l(REFERENCES, HYPOTHESES) == pytest.approx(expected)
    assert longest_common_subsequence("a b c d".split(), "b d a c".split()) == 2
    assert rouge_l(["a b"], ["c d"]) == 0.0


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="2 hypotheses for 3 references"):
        score_translations(REFERENCES, HYPOTHESES[:2])
