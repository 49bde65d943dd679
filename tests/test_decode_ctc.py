"""CTC decoding: greedy by hand, beam width 1 == greedy, beam search == exhaustive search on tiny problems."""
import itertools
import math

import pytest
import torch

from utils.decode import CTCDecoder, sequence_log_probability

GLOSSES = {"A": [1, 5], "B": [2, 3], "C": [3, 1]}  # the shipped {gloss: [index, count]} form


def exhaustive_best(log_probs: torch.Tensor) -> tuple[int, ...]:
    """Label sequence with the largest total probability over every frame path (blank 0)."""
    steps, classes = log_probs.shape
    totals: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(classes), repeat=steps):
        labels, previous = [], None
        for label in path:
            if label != previous and label != 0:
                labels.append(label)
            previous = label
        p = math.exp(sum(log_probs[t, c].item() for t, c in enumerate(path)))
        totals[tuple(labels)] = totals.get(tuple(labels), 0.0) + p
    return max(totals, key=totals.get)


def one_hot_scores(path, classes=4):
    scores = torch.full((len(path), 1, classes), -10.0)
    for t, c in enumerate(path):
        scores[t, 0, c] = 10.0
    return scores


def test_greedy_merges_repeats_and_drops_blanks():
    decoder = CTCDecoder(GLOSSES, 4, search_mode="greedy")
    [out] = decoder.decode(one_hot_scores([0, 1, 1, 0, 1, 2, 2, 0]), torch.tensor([8]))
    assert out.glosses == ["A", "A", "B"]
    assert out.ids == [1, 1, 2]
    assert out.spans == [(1, 3), (4, 5), (5, 7)]


def test_padding_beyond_length_is_ignored():
    scores = torch.cat([one_hot_scores([1, 0, 2, 3, 3]), one_hot_scores([3, 0, 0, 3, 3])], dim=1)
    for mode in ("greedy", "beam"):
        out = CTCDecoder(GLOSSES, 4, search_mode=mode).decode(scores, torch.tensor([3, 5]))
        assert [o.glosses for o in out] == [["A", "B"], ["C", "C"]]


def test_batch_first_and_probability_input_agree_with_time_major_scores():
    torch.manual_seed(0)
    scores = torch.randn(6, 3, 4)
    lengths = torch.tensor([6, 4, 2])
    decoder = CTCDecoder(GLOSSES, 4)
    reference = [o.ids for o in decoder.decode(scores, lengths)]
    assert [o.ids for o in decoder.decode(scores.transpose(0, 1), lengths, batch_first=True)] == reference
    assert [o.ids for o in decoder.decode(scores.softmax(-1), lengths, probs=True)] == reference


def test_beam_width_one_equals_greedy():
    torch.manual_seed(1)
    scores = torch.randn(12, 20, 4) * 3
    lengths = torch.randint(1, 13, (20,))
    greedy = CTCDecoder(GLOSSES, 4, search_mode="greedy").decode(scores, lengths)
    beam = CTCDecoder(GLOSSES, 4, beam_width=1).decode(scores, lengths)
    assert [(o.ids, o.spans) for o in beam] == [(o.ids, o.spans) for o in greedy]


def test_wide_beam_finds_the_exhaustive_best_sequence():
    torch.manual_seed(2)
    decoder = CTCDecoder(GLOSSES, 4, beam_width=100)
    for _ in range(30):
        scores = torch.randn(5, 1, 4) * 2
        [out] = decoder.decode(scores, torch.tensor([5]))
        assert tuple(out.ids) == exhaustive_best(scores[:, 0].log_softmax(-1))


def test_beam_can_beat_greedy_where_paths_add_up():
    # Frame-wise argmax is blank twice (0.4 each), giving ""; but A is spread over
    # A/blank paths: p("A") = 1 - p(only blanks) - ... exceeds p("") = 0.16.
    probs = torch.tensor([[0.4, 0.35, 0.25, 0.0], [0.4, 0.35, 0.25, 0.0]]).unsqueeze(1)
    [greedy] = CTCDecoder(GLOSSES, 4, search_mode="greedy").decode(probs, torch.tensor([2]), probs=True)
    [beam] = CTCDecoder(GLOSSES, 4).decode(probs, torch.tensor([2]), probs=True)
    assert greedy.ids == []
    # p("A") = .35*.35 + .35*.4 + .4*.35 = 0.4025 > p("") = 0.16
    assert beam.ids == [1]
    log_probs = probs[:, 0].clamp_min(1e-30).log()
    assert math.exp(sequence_log_probability(log_probs, [1])) == pytest.approx(0.4025, abs=1e-6)


def test_language_model_and_word_score_change_the_result(tmp_path):
    arpa = tmp_path / "lm.arpa"
    arpa.write_text("\n\\data\\\nngram 1=5\nngram 2=1\n\n\\1-grams:\n-0.3\t<s>\t0\n-0.3\t</s>\t0\n-0.3\tA\t0\n"
                    "-3.0\tB\t0\n-1.0\t<unk>\t0\n\n\\2-grams:\n-0.1\t<s> A\n\n\\end\\\n", encoding="utf-8")
    probs = torch.tensor([[[0.1, 0.44, 0.46, 0.0]]])
    lengths = torch.tensor([1])
    assert CTCDecoder(GLOSSES, 4).decode(probs, lengths, probs=True)[0].glosses == ["B"]
    with_lm = CTCDecoder(GLOSSES, 4, lm_path=str(arpa), lm_weight=1.0)
    assert with_lm.decode(probs, lengths, probs=True)[0].glosses == ["A"]
    assert CTCDecoder(GLOSSES, 4, word_score=-5.0).decode(probs, lengths, probs=True)[0].glosses == []


def test_bad_input_is_refused_clearly():
    decoder = CTCDecoder(GLOSSES, 4)
    with pytest.raises(ValueError, match="4 classes"):
        decoder.decode(torch.randn(3, 1, 5), torch.tensor([3]))
    with pytest.raises(ValueError, match="lengths"):
        decoder.decode(torch.randn(3, 1, 4), torch.tensor([4]))
    with pytest.raises(ValueError, match="share class"):
        CTCDecoder({"A": 1, "B": 1}, 4)
