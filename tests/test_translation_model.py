"""The translation transformer (translation/model.py), its beam search (translation/beam_search.py), vocabulary,
gloss noise and translator."""
import itertools
import math

import numpy as np
import pytest
import torch

from translation.beam_search import BeamSettings, beam_search, length_penalty
from translation.model import TranslationTransformer
from translation.spec import TranslatorShape
from translation.noise import GlossNoise
from translation.vocabulary import BOS_ID, EOS_ID, PAD_ID, SPECIALS, UNK_ID, Vocabulary

SHAPE = TranslatorShape(width=16, heads=2, encoder_layers=2, decoder_layers=2, feed_forward=32, dropout=0.0,
                        embedding_dropout=0.0)


def test_vocabulary_orders_words_by_frequency_and_round_trips():
    vocabulary = Vocabulary.build([["b", "a", "b"], ["c", "b", "a"]])
    assert vocabulary.tokens == (*SPECIALS, "b", "a", "c")
    assert vocabulary.encode(["c", "zzz"]) == [6, UNK_ID]
    assert vocabulary.decode([BOS_ID, 4, 5, EOS_ID, 6]) == ["b", "a"]
    assert Vocabulary.from_list(vocabulary.to_list()) == vocabulary
    assert Vocabulary.build([["a", "b", "b"]], min_frequency=2).tokens == (*SPECIALS, "b")


def test_a_cached_decoding_step_gives_the_teacher_forced_distribution():
    """decode_step one token at a time on cached keys and values equals the whole-sequence forward pass."""
    torch.manual_seed(0)
    model = TranslationTransformer(11, SHAPE, source_vocabulary=9).eval()
    source = torch.tensor([[4, 5, 6, 7], [8, 4, PAD_ID, PAD_ID]])
    lengths = torch.tensor([4, 2])
    target = torch.tensor([[BOS_ID, 4, 5, 6, 7], [BOS_ID, 9, 10, 4, 4]])
    with torch.no_grad():
        expected = model(source, lengths, target).log_softmax(-1)
        memory = model.encode(source, lengths)
        cache = []
        for step in range(target.shape[1]):
            log_probs, cache = model.decode_step(target[:, step], step, cache, memory)
            torch.testing.assert_close(log_probs, expected[:, step], atol=1e-5, rtol=1e-5)
    assert cache[0].shape == (2, 2, 5, 8)


def test_padding_of_the_source_changes_nothing():
    torch.manual_seed(0)
    model = TranslationTransformer(11, SHAPE, source_vocabulary=9).eval()
    target = torch.tensor([[BOS_ID, 4, 5]])
    with torch.no_grad():
        alone = model(torch.tensor([[4, 5]]), torch.tensor([2]), target)
        padded = model(torch.tensor([[4, 5, PAD_ID, PAD_ID]]), torch.tensor([2]), target)
    torch.testing.assert_close(alone, padded, atol=1e-5, rtol=1e-5)


def test_a_feature_encoder_reads_vectors():
    model = TranslationTransformer(11, SHAPE, source_features=6).eval()
    logits = model(torch.randn(2, 5, 6), torch.tensor([5, 3]), torch.tensor([[BOS_ID, 4], [BOS_ID, 5]]))
    assert logits.shape == (2, 2, 11)
    with pytest.raises(ValueError, match="either token ids or features"):
        TranslationTransformer(11, SHAPE, source_vocabulary=9, source_features=6)


def markov_step(table: np.ndarray):
    """A step function whose next-token distribution depends on the previous token only (row of `table`)."""
    def step(tokens, position, rows, cache):
        return table[tokens], cache
    return step


def markov_table(vocabulary: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(vocabulary, vocabulary)) * 2
    logits[:, [UNK_ID, PAD_ID, BOS_ID]] = -50.0  # never worth emitting
    return logits - np.log(np.exp(logits).sum(1, keepdims=True))


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_a_wide_beam_finds_the_exhaustive_best_under_the_length_penalty(alpha):
    """With a beam wider than every hypothesis there is, the search returns the best of all sequences up to the
    length limit (ending with </s> or cut at the limit), scored by log-probability over the length penalty."""
    vocabulary, limit = 7, 4
    for seed in range(5):
        table = markov_table(vocabulary, seed)
        words = range(len(SPECIALS), vocabulary)
        best, best_score = None, -math.inf
        for length in range(limit + 1):
            for sequence in itertools.product(words, repeat=length):
                tokens = [BOS_ID, *sequence] + ([EOS_ID] if length < limit else [])
                if length == limit:
                    tokens = tokens[:limit + 1]
                score = sum(table[a, b] for a, b in zip(tokens, tokens[1:]))
                normalised = score / length_penalty(len(tokens) - 1, alpha)
                if normalised > best_score:
                    best, best_score = list(sequence), normalised
        [found] = beam_search(markov_step(table), [limit], BeamSettings(beam_size=500, alpha=alpha))
        assert found == best, seed


def test_beam_one_is_greedy_decoding():
    table = markov_table(9, 3)
    token, greedy = BOS_ID, []
    for _ in range(6):
        token = int(table[token].argmax())
        if token == EOS_ID:
            break
        greedy.append(token)
    assert beam_search(markov_step(table), [6], BeamSettings(1)) == [greedy]


def test_sentences_of_a_batch_are_searched_independently():
    tables = [markov_table(8, seed) for seed in (1, 2)]

    def step(tokens, position, rows, cache):
        return np.stack([tables[row][token] for row, token in zip(rows, tokens)]), cache

    together = beam_search(step, [5, 5], BeamSettings(3, 1.0))
    alone = [beam_search(markov_step(table), [5], BeamSettings(3, 1.0))[0] for table in tables]
    assert together == alone


def test_gloss_noise_reaches_the_asked_error_rate_in_the_asked_shares():
    from evaluation.python_wer import python_align

    rng = np.random.default_rng(0)
    vocabulary = [f"G{i}" for i in range(300)]
    sentences = [list(rng.choice(vocabulary, size=int(rng.integers(4, 12)))) for _ in range(3000)]
    noise = GlossNoise(sentences, wer=18.71, mix=[0.5, 0.35, 0.15])
    counts = np.zeros(3)
    words = 0
    for sentence in sentences:
        alignment = python_align(sentence, noise.corrupt(sentence, rng))
        counts += [alignment.substitutions, alignment.deletions, alignment.insertions]
        words += len(sentence)
    assert 100 * counts.sum() / words == pytest.approx(18.71, abs=0.6)
    assert counts / counts.sum() == pytest.approx([0.5, 0.35, 0.15], abs=0.03)
    assert noise.corrupt(["G1", "G2"], np.random.default_rng(5)) == noise.corrupt(["G1", "G2"], np.random.default_rng(5))
