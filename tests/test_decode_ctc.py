"""CTCDecoder: the official Decode's greedy and beam outputs, the final repeat merge with spans, backends."""
import importlib.machinery
import sys
import types

import numpy as np
import pytest
import torch

from decoding.ctc_decoder import CTCDecoder, greedy_path, merge_repeats
from decoding.prefix_beam_search import prefix_beam_search

GLOSSES = {"A": [1, 5], "B": [2, 3], "C": [3, 1]}  # the shipped {gloss: [index, count]} form


def one_hot_scores(path, classes=4):
    scores = torch.full((len(path), 1, classes), -10.0)
    for t, c in enumerate(path):
        scores[t, 0, c] = 10.0
    return scores


def test_greedy_is_argmax_merge_drop_blanks_merge_again():
    decoder = CTCDecoder(GLOSSES, 4, search_mode="greedy")
    [out] = decoder.decode(one_hot_scores([0, 1, 1, 0, 1, 2, 2, 0, 3]), torch.tensor([9]))
    # argmax 0 1 1 0 1 2 2 0 3 -> runs 0 1 0 1 2 0 3 -> no blanks 1 1 2 3 -> merged 1 2 3
    assert out.glosses == ["A", "B", "C"]
    assert out.ids == [1, 2, 3]
    assert out.spans == [(1, 5), (5, 7), (8, 9)]


def test_merge_helpers_join_spans():
    assert merge_repeats([1, 1, 2, 1], [(0, 1), (3, 4), (5, 6), (8, 9)]) == ([1, 2, 1], [(0, 4), (5, 6), (8, 9)])
    assert greedy_path([2, 2, 0, 0, 2, 1]) == ([2, 1], [(0, 5), (5, 6)])
    assert greedy_path([0, 0]) == ([], [])


def test_beam_output_a_blank_a_becomes_one_gloss():
    # Steps: A .9 | blank .9 | A .9. Hand count: P("A A") = only the path A _ A = .729;
    # P("A") = AAA + AA_ + A__ + _AA + __A + _A_ = .081+.009+.081+.009+.081+.001 = .262.
    probs = torch.tensor([[0.1, 0.9, 0.0, 0.0], [0.9, 0.1, 0.0, 0.0], [0.1, 0.9, 0.0, 0.0]])
    best = prefix_beam_search(probs.numpy())[0]
    assert best.ids == [1, 1]
    assert best.score == pytest.approx(-np.log(0.729), abs=1e-5)
    [out] = CTCDecoder(GLOSSES, 4).decode(probs.unsqueeze(1), torch.tensor([3]), probs=True)
    assert out.glosses == ["A"]  # the official groupby after the search
    assert out.spans == [(0, 3)]  # from the peaks at steps 0 and 2
    [greedy] = CTCDecoder(GLOSSES, 4, search_mode="greedy").decode(probs.unsqueeze(1), torch.tensor([3]), probs=True)
    assert greedy.glosses == ["A"]


def test_beam_prefers_one_gloss_when_its_paths_add_up():
    # Every step A .5 / blank .5: P("A") = 6/8 (six paths) beats P("A A") = 1/8 (A _ A).
    probs = torch.tensor([[[0.5, 0.5, 0.0, 0.0]]] * 3)
    best = prefix_beam_search(probs[:, 0].numpy())[0]
    assert best.ids == [1]
    assert best.score == pytest.approx(-np.log(0.75), abs=1e-5)


def test_beam_can_beat_greedy_where_paths_add_up():
    # Frame-wise argmax is blank twice (0.4 each), giving ""; but p("A") = .35*.35 + .35*.4 + .4*.35 = .4025
    # exceeds p("") = .16.
    probs = torch.tensor([[0.4, 0.35, 0.25, 0.0], [0.4, 0.35, 0.25, 0.0]]).unsqueeze(1)
    [greedy] = CTCDecoder(GLOSSES, 4, search_mode="greedy").decode(probs, torch.tensor([2]), probs=True)
    [beam] = CTCDecoder(GLOSSES, 4).decode(probs, torch.tensor([2]), probs=True)
    assert greedy.ids == []
    assert beam.ids == [1]


def test_cutoff_top_n_is_passed_through():
    # B is third at both steps; P("B") = .25*.25 + 2*.25*.4 = .2625 beats P("") = .16, P("A") = P("C") = .14,
    # P("A C") = .1225. Extending only the two best classes per step never sees B.
    probs = torch.tensor([[0.4, 0.35, 0.25, 0.0], [0.4, 0.0, 0.25, 0.35]]).unsqueeze(1)
    lengths = torch.tensor([2])
    assert CTCDecoder(GLOSSES, 4, cutoff_top_n=3).decode(probs, lengths, probs=True)[0].glosses == ["B"]
    assert CTCDecoder(GLOSSES, 4, cutoff_top_n=2).decode(probs, lengths, probs=True)[0].glosses == []


def test_padding_beyond_length_is_ignored():
    scores = torch.cat([one_hot_scores([1, 0, 2, 3, 3]), one_hot_scores([3, 0, 1, 3, 3])], dim=1)
    for mode in ("greedy", "beam"):
        out = CTCDecoder(GLOSSES, 4, search_mode=mode).decode(scores, torch.tensor([3, 5]))
        assert [o.glosses for o in out] == [["A", "B"], ["C", "A", "C"]]


def test_batch_first_and_probability_input_agree_with_time_major_scores():
    torch.manual_seed(0)
    scores = torch.randn(6, 3, 4)
    lengths = torch.tensor([6, 4, 2])
    decoder = CTCDecoder(GLOSSES, 4)
    reference = [o.ids for o in decoder.decode(scores, lengths)]
    assert [o.ids for o in decoder.decode(scores.transpose(0, 1), lengths, batch_first=True)] == reference
    assert [o.ids for o in decoder.decode(scores.softmax(-1), lengths, probs=True)] == reference


def test_decoder_output_is_the_merged_best_beam():
    torch.manual_seed(3)
    scores = torch.randn(12, 20, 4) * 3
    lengths = torch.randint(1, 13, (20,))
    decoded = CTCDecoder(GLOSSES, 4).decode(scores, lengths)
    probs = scores.softmax(-1)
    for b, out in enumerate(decoded):
        best = prefix_beam_search(probs[: lengths[b], b].numpy())[0]
        expected_ids, _ = merge_repeats(best.ids, [(t, t + 1) for t in best.timesteps])
        assert out.ids == expected_ids
        assert all(x != y for x, y in zip(out.ids, out.ids[1:]))


class _FakeCTCBeamDecoder:
    """ctcdecode's documented Python API (B x beams x T results), backed by the builtin search."""

    def __init__(self, labels, beam_width, blank_id, cutoff_top_n, num_processes):
        self.beam_width, self.blank_id, self.cutoff_top_n = beam_width, blank_id, cutoff_top_n

    def decode(self, probs, seq_lens):
        batch, steps = probs.shape[:2]
        results = torch.zeros(batch, self.beam_width, steps, dtype=torch.int32)
        timesteps = torch.zeros_like(results)
        scores = torch.zeros(batch, self.beam_width)
        lengths = torch.zeros(batch, self.beam_width, dtype=torch.int32)
        for b in range(batch):
            beams = prefix_beam_search(probs[b, : seq_lens[b]].numpy(), self.beam_width, self.cutoff_top_n,
                                       self.blank_id)
            for k, beam in enumerate(beams):
                results[b, k, : len(beam.ids)] = torch.tensor(beam.ids, dtype=torch.int32)
                timesteps[b, k, : len(beam.ids)] = torch.tensor(beam.timesteps, dtype=torch.int32)
                scores[b, k], lengths[b, k] = beam.score, len(beam.ids)
        return results, scores, timesteps, lengths


def test_ctcdecode_backend_reads_beam_zero_and_merges(monkeypatch):
    package = types.ModuleType("ctcdecode")
    package.__spec__ = importlib.machinery.ModuleSpec("ctcdecode", None)
    package.CTCBeamDecoder = _FakeCTCBeamDecoder
    monkeypatch.setitem(sys.modules, "ctcdecode", package)
    probs = torch.tensor([[0.1, 0.9, 0.0, 0.0], [0.9, 0.1, 0.0, 0.0], [0.1, 0.9, 0.0, 0.0], [0.1, 0.0, 0.9, 0.0]])
    batch = torch.stack([probs, probs.roll(1, 0)], dim=1)
    lengths = torch.tensor([4, 3])
    via_package = CTCDecoder(GLOSSES, 4, backend="ctcdecode").decode(batch, lengths, probs=True)
    builtin = CTCDecoder(GLOSSES, 4).decode(batch, lengths, probs=True)
    assert [(o.ids, o.spans) for o in via_package] == [(o.ids, o.spans) for o in builtin]
    assert via_package[0].glosses == ["A", "B"]


def test_flashlight_language_model_and_word_score_change_the_result(tmp_path):
    arpa = tmp_path / "lm.arpa"
    arpa.write_text("\n\\data\\\nngram 1=5\nngram 2=1\n\n\\1-grams:\n-0.3\t<s>\t0\n-0.3\t</s>\t0\n-0.3\tA\t0\n"
                    "-3.0\tB\t0\n-1.0\t<unk>\t0\n\n\\2-grams:\n-0.1\t<s> A\n\n\\end\\\n", encoding="utf-8")
    probs = torch.tensor([[[0.1, 0.44, 0.46, 0.0]]])
    lengths = torch.tensor([1])
    assert CTCDecoder(GLOSSES, 4, backend="flashlight").decode(probs, lengths, probs=True)[0].glosses == ["B"]
    with_lm = CTCDecoder(GLOSSES, 4, backend="flashlight", lm_path=str(arpa), lm_weight=1.0)
    assert with_lm.decode(probs, lengths, probs=True)[0].glosses == ["A"]
    penalised = CTCDecoder(GLOSSES, 4, backend="flashlight", word_score=-5.0)
    assert penalised.decode(probs, lengths, probs=True)[0].glosses == []


def test_bad_input_is_refused_clearly():
    decoder = CTCDecoder(GLOSSES, 4)
    with pytest.raises(ValueError, match="4 classes"):
        decoder.decode(torch.randn(3, 1, 5), torch.tensor([3]))
    with pytest.raises(ValueError, match="lengths"):
        decoder.decode(torch.randn(3, 1, 4), torch.tensor([4]))
    with pytest.raises(ValueError, match="share class"):
        CTCDecoder({"A": 1, "B": 1}, 4)
    with pytest.raises(ValueError, match="backend=flashlight"):
        CTCDecoder(GLOSSES, 4, lm_path="lm.arpa")
    with pytest.raises(ValueError, match="backend must be one of"):
        CTCDecoder(GLOSSES, 4, backend="auto")


@pytest.mark.parametrize("mode, backend", [("greedy", "builtin"), ("beam", "builtin"), ("beam", "flashlight")])
def test_decoding_numpy_scores_equals_decoding_tensors(mode, backend):
    """ONNX Runtime's logits are decoded without torch (NumPy softmax): the same glosses and spans as the
    tensors' decoding on 40 model-like sequences of 9 classes."""
    from benchmarks.model_like_logits import model_like_logits

    decoder = CTCDecoder({f"G{i}": i for i in range(1, 9)}, 9, search_mode=mode, backend=backend)
    rng = np.random.default_rng(0)
    for index in range(40):
        logits = torch.from_numpy(model_like_logits(rng, steps=int(rng.integers(5, 60)), classes=9,
                                                    ambiguous=index % 2 == 1)[0])
        [expected] = decoder.decode(logits[:, None], torch.tensor([len(logits)]))
        ours = decoder.decode_array(logits.numpy())
        assert (ours.glosses, ours.spans) == (expected.glosses, expected.spans), index
