"""Recognising a recording of any length, or a live stream, in bounded memory.

Frames are read and prepared one at a time. The network sees overlapping windows of `window` prepared frames,
each padded as a clip of its own; consecutive windows share `overlap` frames, and of the output steps computed
twice each window keeps the half nearer its own middle, so every step keeps at least overlap/2 frames of context
on both sides. The stitched logits are decoded in pieces cut at steps the model is sure are blank (no gloss can
straddle them), which are settled from then on: memory stays bounded by the window and the longest stretch
without a sure blank, and a live stream's glosses can be printed as they settle. The official final merge of
repeated glosses is applied across the cuts. Imports no torch.
"""
from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from decoding.ctc_decoder import DecodedSequence, softmax
from deploy.timeline import Timeline
from utils.signals import signals_handled

ClipRunner = Callable[[np.ndarray], np.ndarray]  # prepared clip (T x H x W x 3 uint8) -> logits (T' x C)
StepObserver = Callable[[np.ndarray], None]  # the posteriors (T x C) of more output steps, as they are stitched
# A step whose blank posterior is at least this ends a piece. Measured on the demo's dev clips joined into one
# recording (bench_long_recording): cuts at 0.9 to 0.999 give the glosses of decoding the whole at once, while
# 0.999 is rarely reached (the demo's model tops out near 0.995) and would hold glosses back for minutes.
SURE_BLANK = 0.99
LONGEST_PIECE = 2048  # steps decoded together at most (then cut at the surest blank): about 5.5 min at 25 fps


def check_windows(window: int, overlap: int, stride: int) -> str:
    """Why a window/overlap pair cannot be used ('' when it can): windows start on output steps, and each half
    of the overlap is whole steps."""
    if window % stride:
        return f"predict_args.window ({window}) must be a multiple of the temporal stride {stride}"
    if overlap % (2 * stride):
        return f"predict_args.overlap ({overlap}) must be a multiple of twice the temporal stride ({2 * stride})"
    if overlap >= window:
        return f"predict_args.overlap ({overlap}) must be smaller than predict_args.window ({window})"
    return ""


class WindowedLogits:
    """The logits of an unbounded clip, from overlapping windows (module docstring); `stride` prepared frames per
    output step."""

    def __init__(self, run: ClipRunner, window: int, overlap: int, stride: int) -> None:
        problem = check_windows(window, overlap, stride)
        if problem:
            raise ValueError(problem)
        self.run, self.window, self.overlap, self.stride = run, window, overlap, stride
        self.frames: list[np.ndarray] = []  # prepared frames from `self.start` on
        self.start = 0  # prepared-frame index of frames[0]
        self.emitted = 0  # output steps given out so far

    def feed(self, frame: np.ndarray) -> np.ndarray:
        """One more prepared frame; the steps that became final (possibly none)."""
        self.frames.append(frame)
        if len(self.frames) < self.window:
            return np.empty((0, 0), dtype=np.float32)
        logits = self.run(np.stack(self.frames))
        end = (self.start + self.window - self.overlap // 2) // self.stride  # keep the steps nearer this window's middle
        kept = logits[self.emitted - self.start // self.stride:end - self.start // self.stride]
        self.emitted = end
        advance = self.window - self.overlap
        self.frames = self.frames[advance:]
        self.start += advance
        return kept

    def finish(self) -> np.ndarray:
        """The steps after the last full window: its tail as a clip of its own."""
        if not self.frames or self.start + len(self.frames) <= self.emitted * self.stride:
            return np.empty((0, 0), dtype=np.float32)
        logits = self.run(np.stack(self.frames))
        self.frames = []
        return logits[self.emitted - self.start // self.stride:]


@dataclass
class Gloss:
    """A recognised gloss over output steps [start, end) of the whole recording."""

    gloss: str
    class_id: int
    start: int
    end: int


def sentences_at_pauses(glosses: list[Gloss], pause_steps: int) -> list[list[Gloss]]:
    """Glosses grouped into sentences: a gap of at least `pause_steps` output steps between two glosses ends one."""
    sentences: list[list[Gloss]] = []
    for gloss in glosses:
        if not sentences or gloss.start - sentences[-1][-1].end >= pause_steps:
            sentences.append([])
        sentences[-1].append(gloss)
    return sentences


class SentenceTracker:
    """A live stream's sentences as they end: a sentence ends when the next gloss starts a pause after it, or when
    the stream has gone on for a pause without another gloss (the last gloss may still be held for the official
    merge: a repeat of it after the pause extends it, and is not a sentence of its own)."""

    def __init__(self, pause_steps: int) -> None:
        self.pause_steps, self.first = pause_steps, 0  # index of the current sentence's first gloss

    def ended(self, settled: list[Gloss], held: Gloss | None, steps_seen: int,
              final: bool = False) -> list[list[Gloss]]:
        """The sentences that ended since the last call; `settled`: every settled gloss so far, `held` the one
        the decoder still holds (or None)."""
        ended, count = [], len(settled) + (held is not None)

        def part(start: int, end: int) -> list[Gloss]:
            return settled[start:end] + ([held] if held is not None and end > len(settled) else [])

        for index in range(self.first + 1, count):
            if part(index, index + 1)[0].start - part(index - 1, index)[0].end >= self.pause_steps:
                ended.append(part(self.first, index))
                self.first = index
        if self.first < count and (final or steps_seen - part(count - 1, count)[0].end >= self.pause_steps):
            ended.append(part(self.first, count))
            self.first = count
        return ended


class StreamingDecoder:
    """Decodes stitched logits piece by piece (module docstring) with `decode` (one piece's T x C logits ->
    DecodedSequence), keeping only the steps not decoded yet. `fresh` holds the glosses the last call decoded
    that are new (the last one may still be held back for the official merge: a repeat of it extends it and is not
    new), so a stream can show each gloss as soon as it is decoded; `on_steps` sees every step's posteriors."""

    def __init__(self, decode: Callable[[np.ndarray], DecodedSequence], blank_id: int = 0,
                 on_steps: StepObserver | None = None) -> None:
        self.decode, self.blank_id, self.on_steps = decode, blank_id, on_steps
        self.pending: list[np.ndarray] = []  # logits rows not yet decoded
        self.pending_blank: list[float] = []  # their blank posteriors
        self.offset = 0  # global step of pending[0]
        self.held: Gloss | None = None  # the last gloss decoded: the next piece may continue it
        self.fresh: list[Gloss] = []

    @property
    def steps_seen(self) -> int:
        return self.offset + len(self.pending)

    def feed(self, logits: np.ndarray) -> list[Gloss]:
        """More steps; the glosses that are settled now."""
        self.fresh = []
        if not len(logits):
            return []
        posteriors = softmax(logits)
        if self.on_steps is not None:
            self.on_steps(posteriors)
        self.pending.extend(logits)
        self.pending_blank += posteriors[:, self.blank_id].tolist()
        blank = np.asarray(self.pending_blank)
        sure = np.flatnonzero(blank >= SURE_BLANK)
        if len(sure):
            return self._settle(int(sure[-1]) + 1)
        if len(self.pending) > LONGEST_PIECE:
            return self._settle(int(blank.argmax()) + 1)
        return []

    def finish(self) -> list[Gloss]:
        self.fresh = []
        settled = self._settle(len(self.pending)) if self.pending else []
        if self.held is not None:
            settled.append(self.held)
            self.held = None
        return settled

    def _settle(self, steps: int) -> list[Gloss]:
        piece = np.stack(self.pending[:steps])
        decoded = self.decode(piece)
        glosses = [Gloss(gloss, class_id, self.offset + start, self.offset + end)
                   for gloss, class_id, (start, end) in zip(decoded.glosses, decoded.ids, decoded.spans)]
        self.pending, self.pending_blank = self.pending[steps:], self.pending_blank[steps:]
        self.offset += steps
        settled = []
        for gloss in glosses:
            if self.held is not None and self.held.class_id == gloss.class_id:  # the official final merge
                self.held.end = gloss.end
                continue
            if self.held is not None:
                settled.append(self.held)
            self.held = gloss
            self.fresh.append(gloss)
        return settled


@dataclass
class LongRecognition:
    """What was recognised in a long recording or a stream, and its picture's data (when asked for)."""

    glosses: list[Gloss]
    num_frames: int
    timeline: Timeline | None = None

    def decoded(self) -> DecodedSequence:
        return DecodedSequence([g.gloss for g in self.glosses], [g.class_id for g in self.glosses],
                               [(g.start, g.end) for g in self.glosses])


def recognise_long(frames: Iterable[np.ndarray], prepare: Callable[[np.ndarray], np.ndarray], run: ClipRunner,
                   decode: Callable[[np.ndarray], DecodedSequence], *, window: int, overlap: int, stride: int,
                   frame_interval: int = 1, on_glosses: Callable[[list[Gloss], int], None] | None = None,
                   on_sentences: Callable[[list[list[Gloss]]], None] | None = None, pause_steps: int = 0,
                   timeline: Timeline | None = None) -> LongRecognition:
    """Recognise `frames` (raw RGB, one at a time) in windows: every `frame_interval`-th frame from the first is
    `prepare`d (one frame in, one out); `on_glosses(new, frames_read)` hears of each gloss as soon as it is decoded
    (StreamingDecoder.fresh), `on_sentences(ended)` of sentences as a pause of `pause_steps` ends them
    (SentenceTracker); `timeline` gathers the picture's data. A KeyboardInterrupt ends the reading: what was read
    is recognised and returned."""
    windows = WindowedLogits(run, window, overlap, stride)
    decoder = StreamingDecoder(decode, on_steps=timeline.steps.add if timeline is not None else None)
    glosses: list[Gloss] = []
    count = 0
    tracker = SentenceTracker(pause_steps)

    def settled(new: list[Gloss], final: bool = False) -> None:
        glosses.extend(new)
        if decoder.fresh and on_glosses is not None:
            on_glosses(decoder.fresh, count)
        if on_sentences is not None:
            ended = tracker.ended(glosses, decoder.held, decoder.steps_seen, final)
            if ended:
                on_sentences(ended)

    try:
        for count, frame in enumerate(frames, start=1):
            if timeline is not None:
                timeline.thumbnails.offer(count - 1, frame)
            if (count - 1) % frame_interval == 0:
                settled(decoder.feed(windows.feed(prepare(frame))))
    except KeyboardInterrupt:
        pass
    # the reading has ended: what was read is finished, whatever Ctrl-C follows
    with signals_handled(signal.SIG_IGN, [signal.SIGINT]):
        settled(decoder.feed(windows.finish()))
        settled(decoder.finish(), final=True)
    return LongRecognition(glosses, count, timeline)

