"""deploy/long_recording.py: windows stitched without a lost or repeated output step, pieces decoded as the
whole, the official repeat merge across cuts, thumbnails bounded."""
import numpy as np
import pytest

from decoding.ctc_decoder import CTCDecoder
from deploy.long_recording import (SURE_BLANK, Gloss, SentenceTracker, StreamingDecoder, WindowedLogits,
                                   check_windows, recognise_long, sentences_at_pauses)
from deploy.timeline import StepSeries, Thumbnails, Timeline

STRIDE = 4


def step_starts(clip: np.ndarray) -> np.ndarray:
    """A model without temporal context: each output step says which frame it starts at (frames carry their
    index), as ceil(T / 4) steps of a clip of T frames."""
    starts = clip[::STRIDE, 0, 0, 0].astype(np.float32)
    return np.stack([starts, -starts], axis=1)


def frames(count: int) -> list[np.ndarray]:
    return [np.full((1, 1, 3), index, dtype=np.int64) for index in range(count)]


@pytest.mark.parametrize("count", [1, 37, 64, 255, 256, 257, 600, 1001])
@pytest.mark.parametrize("window, overlap", [(32, 8), (64, 16), (256, 64), (40, 0)])
def test_windows_give_every_output_step_once_and_in_order(count, window, overlap):
    windows = WindowedLogits(step_starts, window, overlap, STRIDE)
    steps = [windows.feed(frame) for frame in frames(count)] + [windows.finish()]
    stitched = np.concatenate([rows for rows in steps if len(rows)])
    np.testing.assert_array_equal(stitched[:, 0], np.arange(0, count, STRIDE))


def test_each_step_comes_from_the_window_where_it_has_the_most_context():
    """Every kept step of a window lies at least overlap/2 frames inside it, unless it is at the recording's
    own ends."""
    seen = []

    def run(clip):
        seen.append((int(clip[0, 0, 0, 0]), len(clip)))
        return step_starts(clip)

    windows = WindowedLogits(run, 64, 32, STRIDE)
    kept = [(windows.feed(frame), len(seen)) for frame in frames(300)]
    for rows, calls in kept:
        if len(rows):
            start, length = seen[calls - 1]
            assert rows[0, 0] == 0 or rows[0, 0] >= start + 16
            assert rows[-1, 0] + STRIDE <= start + length - 16


def test_window_settings_that_cannot_tile_are_refused():
    assert check_windows(256, 64, 4) == ""
    assert "multiple of the temporal stride 4" in check_windows(250, 64, 4)
    assert "multiple of twice the temporal stride (8)" in check_windows(256, 60, 4)
    assert "smaller than predict_args.window" in check_windows(64, 64, 4)


def logits_of(path: list[int], classes: int = 4) -> np.ndarray:
    rows = np.full((len(path), classes), -12.0, dtype=np.float32)
    rows[np.arange(len(path)), path] = 12.0
    return rows


def test_pieces_cut_at_sure_blanks_decode_as_the_whole_and_merge_repeats_across_cuts():
    """A B _ _ B C _ A _ A: decoded whole, the official final merge gives A B C A; fed in chunks, cut at the sure
    blanks, the same glosses with the same global spans (the A _ A pair merged across a cut too)."""
    decoder = CTCDecoder({"A": 1, "B": 2, "C": 3}, 4, search_mode="beam")
    path = [1, 2, 0, 0, 2, 3, 0, 1, 0, 1]
    whole = decoder.decode_array(logits_of(path))
    series = StepSeries()
    streaming = StreamingDecoder(decoder.decode_array, on_steps=series.add)
    settled = []
    for start in range(0, len(path), 3):
        settled += streaming.feed(logits_of(path[start:start + 3]))
    settled += streaming.finish()
    assert [g.gloss for g in settled] == whole.glosses == ["A", "B", "C", "A"]
    assert [(g.start, g.end) for g in settled] == whole.spans
    assert series.blank[2] >= SURE_BLANK and len(series.blank) == len(path) == len(series.best)
    assert streaming.pending == [] and streaming.pending_blank == []  # nothing of the decoded steps is kept


def test_a_long_recording_through_a_context_free_model_reads_each_frame_once(monkeypatch):
    """recognise_long over 1000 frames with frame_interval 2: 500 prepared frames, 125 steps, all frames counted,
    thumbnails spread over the whole and bounded."""
    prepared = []

    def prepare(frame):
        prepared.append(int(frame[0, 0, 0]))
        return frame

    decoder = CTCDecoder({"A": 1}, 2, search_mode="greedy")
    result = recognise_long(iter([np.full((8, 8, 3), i % 256, dtype=np.uint8) for i in range(1000)]), prepare,
                            lambda clip: np.tile([[5.0, -5.0]], (-(-len(clip) // STRIDE), 1)).astype(np.float32),
                            decoder.decode_array, window=64, overlap=16, stride=STRIDE, frame_interval=2,
                            timeline=Timeline())
    assert result.num_frames == 1000 and len(prepared) == 500 and prepared[:3] == [0, 2, 4]
    assert len(result.timeline.steps.blank) == 125 and result.glosses == []
    indices = [index for index, _ in result.timeline.thumbnails.kept]
    assert 12 <= len(indices) < 48 and indices[0] == 0 and indices[-1] >= 900


def test_thumbnails_stay_bounded_over_any_length():
    thumbnails = Thumbnails()
    for index in range(100_000):
        thumbnails.offer(index, np.zeros((2, 2, 3), dtype=np.uint8))
    assert len(thumbnails.kept) < 48 and thumbnails.kept[-1][0] > 90_000


def test_sentences_end_at_pauses_and_a_stream_says_each_once_its_pause_has_passed():
    """Glosses at steps A[0,2) B[2,4), a pause, C[10,12) and A[12,13): two sentences at a pause of 3 steps. A
    stream hears of the first once 3 steps have passed after B (before C is signed), the second at its end; a
    pause shorter than the gap splits nothing in between."""
    glosses = [Gloss("A", 1, 0, 2), Gloss("B", 2, 2, 4), Gloss("C", 3, 10, 12), Gloss("A", 1, 12, 13)]
    assert [[g.gloss for g in sentence] for sentence in sentences_at_pauses(glosses, 3)] == [["A", "B"], ["C", "A"]]
    assert len(sentences_at_pauses(glosses, 7)) == 1
    tracker = SentenceTracker(3)
    assert tracker.ended(glosses[:1], glosses[1], steps_seen=6) == []  # B still held, 2 steps after it
    [first] = tracker.ended(glosses[:1], glosses[1], steps_seen=7)
    assert [g.gloss for g in first] == ["A", "B"]
    assert tracker.ended(glosses[:2], glosses[2], steps_seen=12) == []  # C only just signed
    assert tracker.ended(glosses[:3], glosses[3], steps_seen=14) == []
    [second] = tracker.ended(glosses, None, steps_seen=14, final=True)
    assert [g.gloss for g in second] == ["C", "A"]


def test_a_stream_reports_its_sentences_as_they_end():
    """recognise_long with on_sentences: the glosses of the path A A _ x8 B, one sentence each, reported once."""
    decoder = CTCDecoder({"A": 1, "B": 2, "C": 3}, 4, search_mode="greedy")
    path = [1, 1] + [0] * 8 + [2]
    clips = []

    def run(clip):
        clips.append(len(clip))
        start = int(clip[0, 0, 0, 0]) // STRIDE
        return logits_of(path[start:start + -(-len(clip) // STRIDE)])

    heard = []
    images = [np.full((2, 2, 3), index, dtype=np.uint8) for index in range(len(path) * STRIDE)]
    result = recognise_long(iter(images), lambda frame: frame, run, decoder.decode_array,
                            window=16, overlap=8, stride=STRIDE, on_sentences=heard.append, pause_steps=4)
    assert [[[g.gloss for g in sentence] for sentence in ended] for ended in heard] == [[["A"]], [["B"]]]
    assert [g.gloss for g in result.glosses] == ["A", "B"]
