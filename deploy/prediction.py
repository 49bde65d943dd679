"""Prediction, whichever runtime runs the network (PyTorch in seq_scripts.predict, ONNX Runtime in
deploy/onnx_predict.py): the inputs a user names, each read whole when it is a clip, in windows when it is a
long recording or a live source (deploy/long_recording.py), and per input <name>.json (glosses with frame spans
and seconds; with a translator the sentence they say, for a long recording each sentence between pauses),
<name>.alignment.png, one predictions.ctm and, with a translator, translations.txt. Imports no torch."""
from __future__ import annotations

import collections
import glob
import itertools
import logging
import math
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from dataset.frames import STORED_FRAME_SUFFIX, InputGeometry, frame_glob, glob_root, is_glob, is_video_file
from decoding.ctc_decoder import CTCDecoder, DecodedSequence, softmax
from deploy.frame_source import LiveFrame, input_frames, is_live_source, live_frames, paced
from deploy.long_recording import Gloss, LongRecognition, check_windows, recognise_long, sentences_at_pauses
from deploy.timeline import Timeline
from evaluation.alignment_figure import save_alignment_picture, save_timeline_picture
from evaluation.ctm import ctm_line
from utils.config.schema import Config, ConfigError, PredictArgs
from utils.io import write_json_atomic, write_text_atomic
from utils.kernel_spec import pad_to_stride
from utils.progress import progress
from utils.redact import mask_credentials
from utils.work_dir import PREDICTIONS_CTM, PREDICTIONS_TRANSLATIONS

Translate = Callable[[list[str]], str]  # recognised glosses -> the sentence they say

logger = logging.getLogger("slowfastsign")


def expand_inputs(inputs: Sequence[str]) -> list[Path | str]:
    """Videos, frame folders, frame globs, or text files listing them (one per line). A frame glob whose
    files lie in several folders (`clips/*/*.png`) is one input per folder, each folder a video. Live sources
    (a camera index, a stream URL) stay as given."""
    expanded: list[Path | str] = []
    for item in inputs:
        path = Path(item)
        if is_live_source(item):
            expanded.append(item)
        elif path.suffix == ".txt" and path.is_file():
            lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
            expanded += expand_inputs([line for line in lines if line and not line.startswith("#")])
        elif is_glob(path.parent):
            folders = sorted({Path(match).parent for match in glob.glob(item) if Path(match).is_file()}, key=str)
            expanded += [frame_glob(folder, path.name) for folder in folders] or [path]
        else:
            expanded.append(path)
    return expanded


def prediction_name(path: Path | str, taken: set[str]) -> str:
    """The output name of one input: a video's stem, a frame folder's (or glob's) folder name, and for
    PHOENIX's numbered camera folder (`<id>/1/*.png`) the video id above it, `camera<n>` or the stream URL's
    last part for a live source; made unique among `taken` (`_2`, `_3`, ...) so that no prediction overwrites
    another. The name is added to `taken`."""
    if isinstance(path, str):
        address = path.split("?", 1)[0].split("#", 1)[0].rstrip("/")  # never a query's secrets in a file name
        name = f"camera{path}" if path.isdigit() else re.sub(r"[^\w.-]+", "_", mask_credentials(address).rsplit("/", 1)[-1])
    elif is_video_file(path):
        name = path.stem
    else:
        folder = glob_root(path)
        name = folder.parent.name if folder.name.isdigit() and folder.parent.name else folder.name
    unique, count = name, 1
    while unique in taken:
        count += 1
        unique = f"{name}_{count}"
    taken.add(unique)
    return unique


def prediction_geometry(config: Config, recorded: dict[str, Any] | None) -> InputGeometry:
    """How prediction reads a clip, in both runtimes: as the model `recorded` its training data was read (a
    checkpoint's input_geometry, model.json's); for checkpoints without that record (the official ones), as the
    configuration says, with the official preprocessing's 256x256 frames in the dataset's stored format.
    predict_args.frame_size, when set, replaces the frame size."""
    feeder, size = config.feeder_args, config.predict_args.frame_size
    if recorded:
        geometry = InputGeometry.from_dict(recorded)
    else:
        geometry = InputGeometry(frame_suffix=STORED_FRAME_SUFFIX.get(config.dataset, ".png"), dataset=config.dataset,
                                 input_size=feeder.input_size, image_scale=feeder.image_scale,
                                 frame_interval=feeder.frame_interval)
    return replace(geometry, frame_size=(size, size)) if size else geometry


def pad_clip(clip: np.ndarray, left_pad: int, stride: int) -> np.ndarray:
    """One clip (T x H x W x 3) padded as dataset.collate.PadCollate pads a batch of it alone: `left_pad` copies
    of its first frame before it, copies of its last frame after it up to ceil(T / stride) * stride + 2 * left_pad."""
    total = pad_to_stride(len(clip), left_pad, stride)
    return np.concatenate([np.repeat(clip[:1], left_pad, axis=0), clip,
                           np.repeat(clip[-1:], total - left_pad - len(clip), axis=0)])


def _segments(decoded: DecodedSequence, stride: int, num_frames: int, fps: float) -> list[dict]:
    """Each gloss's first and last input frame and seconds (`stride` input frames per output step)."""
    segments = []
    for gloss, (start, end) in zip(decoded.glosses, decoded.spans):
        first, last = start * stride, min(end * stride, num_frames) - 1
        segments.append({"gloss": gloss, "start_frame": first, "end_frame": max(first, last),
                         "start_s": round(first / fps, 3), "end_s": round((max(first, last) + 1) / fps, 3)})
    return segments


class PredictionWriter:
    """Writes each recognised input's files into `out_dir` as it comes, and predictions.ctm (and with `translate`,
    translations.txt) at the end; a long recording's sentences end at pauses of `pause` seconds."""

    def __init__(self, out_dir: Path, vocabulary: Sequence[str], fps: float, pictures: bool,
                 translate: Translate | None = None, pause: float = 1.0, translate_long: bool = True) -> None:
        self.out_dir, self.vocabulary, self.fps, self.pictures = out_dir, vocabulary, fps, pictures
        self.translate, self.pause = translate, pause
        self.translate_long = translate is not None and translate_long  # sentences of long recordings too
        self.ctm_lines: list[str] = []
        self.translation_lines: list[str] = []
        self.results: list[dict] = []

    def pause_steps(self, stride: int) -> int:
        """The pause in output steps (`stride` input frames each), at least one."""
        return max(1, math.ceil(self.pause * self.fps / stride))

    def add(self, path: Path | str, name: str, frames: np.ndarray, decoded: DecodedSequence, stride: int,
            posteriors: np.ndarray | None) -> dict:
        """One input: `stride` input frames per output step; `posteriors` (T' x C) for its picture."""
        result = self._record(path, name, len(frames), decoded, stride)
        if self.pictures and posteriors is not None:
            save_alignment_picture(self.out_dir, name, frames, posteriors, decoded, self.vocabulary, stride)
        return result

    def add_long(self, path: Path | str, name: str, recognition: LongRecognition, stride: int,
                 windows: dict[str, int]) -> dict:
        """A recording recognised in windows (deploy/long_recording.py), pictured as a timeline."""
        decoded = recognition.decoded()
        extra: dict[str, Any] = {"windows": windows}
        if self.translate_long:
            extra["sentences"] = [self._sentence(name, sentence, stride)
                                  for sentence in sentences_at_pauses(recognition.glosses, self.pause_steps(stride))]
        result = self._record(path, name, recognition.num_frames, decoded, stride, **extra)
        if self.pictures and recognition.timeline is not None:
            save_timeline_picture(self.out_dir, name, recognition.timeline, recognition.num_frames, decoded,
                                  self.vocabulary, stride, self.fps)
        return result

    def _record(self, path: Path | str, name: str, num_frames: int, decoded: DecodedSequence, stride: int,
                **extra: object) -> dict:
        segments = _segments(decoded, stride, num_frames, self.fps)
        self.ctm_lines += [ctm_line(name, s["start_frame"] / self.fps, (s["end_frame"] + 1 - s["start_frame"]) / self.fps,
                                    s["gloss"], decimals=3) for s in segments]
        result = {"input": mask_credentials(str(path)), "num_frames": int(num_frames), "glosses": decoded.glosses,
                  "sentence": " ".join(decoded.glosses), "segments": segments, **extra}
        if self.translate is not None and "windows" not in extra:
            result["translation"] = self.translate(decoded.glosses)
            self.translation_lines.append(f"{name}\t{result['translation']}\n")
        elif "sentences" in extra:
            result["translation"] = " ".join(sentence["translation"] for sentence in extra["sentences"])
        write_json_atomic(self.out_dir / f"{name}.json", result)
        self.results.append(result)
        logger.info("%s: %s", result["input"], result["sentence"] or "(nothing recognised)")
        if result.get("translation"):
            logger.info("%s: %s", result["input"], result["translation"])
        return result

    def _sentence(self, name: str, glosses: list[Gloss], stride: int) -> dict[str, Any]:
        """A sentence of a long recording: its glosses, their time and their translation (also a line of
        translations.txt, after the recording's name and start time)."""
        words = [gloss.gloss for gloss in glosses]
        start, end = glosses[0].start * stride / self.fps, glosses[-1].end * stride / self.fps
        translation = self.translate(words)
        self.translation_lines.append(f"{name}@{start:.2f}s\t{translation}\n")
        return {"glosses": words, "start_s": round(start, 3), "end_s": round(end, 3), "translation": translation}

    def finish(self) -> list[dict]:
        write_text_atomic(self.out_dir / PREDICTIONS_CTM, "".join(self.ctm_lines))
        if self.translate is not None:
            write_text_atomic(self.out_dir / PREDICTIONS_TRANSLATIONS, "".join(self.translation_lines))
        return self.results


@dataclass
class Runtime:
    """What differs between running the network in PyTorch and in ONNX Runtime: a prepared clip (T x H x W x 3
    uint8, before padding: `run` pads it with pad_clip) in, its NumPy logits (T' x C) out; `stride` prepared
    frames per output step. Decoding and pictures are the same for both (predict_inputs)."""

    run: Callable[[np.ndarray], np.ndarray]
    stride: int


def _drain(head: list[np.ndarray], rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """`head`'s frames (released as they are given out), then `rest`'s."""
    queue = collections.deque(head)
    head.clear()
    while queue:
        yield queue.popleft()
    yield from rest


STATUS_SECONDS = 10.0  # a live stream's lag and dropped frames are printed this often
CAPTURE_TIMES_KEPT = 1 << 15


class LiveReport:
    """A live stream as it goes: its frames, dropped while the recognition lags more than `max_lag` seconds
    behind their capture (0: never), so the lag stays bounded when recognising is slower than real time; each
    gloss printed as soon as it is decoded, with how long after its last frame was captured; each sentence, with a
    translator, once a pause has ended it; the lag and the dropped frames every STATUS_SECONDS. Memory is bounded:
    only the capture times of the last 65536 frames are kept."""

    def __init__(self, source: str, stride: int, fps: float, translate: Translate | None = None,
                 max_lag: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.source, self.stride, self.fps, self.translate = mask_credentials(source), stride, fps, translate
        self.max_lag, self.clock = max_lag, clock
        self.captured = np.zeros(CAPTURE_TIMES_KEPT)  # capture time of processed frame i at i % CAPTURE_TIMES_KEPT
        self.start: float | None = None  # capture time of the stream's first frame
        self.processed = self.dropped = 0
        self.largest_lag = 0.0
        self.last_status = clock()

    def frames(self, live: Iterator[LiveFrame]) -> Iterator[np.ndarray]:
        for frame in live:
            if self.start is None:
                self.start = frame.captured
            lag = self.clock() - frame.captured
            if self.max_lag and lag > self.max_lag and self.processed:
                self.dropped += 1
                continue
            self.largest_lag = max(self.largest_lag, lag)
            self.captured[self.processed % CAPTURE_TIMES_KEPT] = frame.captured
            self.processed += 1
            if self.clock() - self.last_status >= STATUS_SECONDS:
                self.last_status = self.clock()
                print(f"{self.source}: recognition {lag:.1f} s behind capture, {self.dropped} frames dropped so far",
                      flush=True)
            yield frame.image
        logger.info("%s: the stream ended after %d frames (%d dropped to keep the lag under %g s; largest lag %.1f s)",
                    self.source, self.processed + self.dropped, self.dropped, self.max_lag, self.largest_lag)

    def _captured(self, frame: int) -> float:
        """The capture time of processed frame `frame` (the oldest kept one for an older frame)."""
        frame = min(max(frame, self.processed - CAPTURE_TIMES_KEPT, 0), max(self.processed - 1, 0))
        return float(self.captured[frame % CAPTURE_TIMES_KEPT])

    def _stream_seconds(self, captured: float) -> float:
        """Where in the stream a frame captured at `captured` ends, in seconds from the stream's start."""
        return captured - (self.start or captured) + 1 / self.fps

    def __call__(self, glosses: list[Gloss], frames_read: int) -> None:
        now = self.clock()
        for gloss in glosses:
            last = self._captured(min(gloss.end * self.stride, frames_read) - 1)
            print(f"{self._stream_seconds(last):9.2f} s  {gloss.gloss}  ({now - last:.1f} s behind "
                  f"the live frame)", flush=True)

    def sentences(self, ended: list[list[Gloss]]) -> None:
        for sentence in ended:
            last = self._captured(sentence[-1].end * self.stride - 1)
            print(f"{self._stream_seconds(last):9.2f} s  sentence: "
                  f"{self.translate([gloss.gloss for gloss in sentence])}", flush=True)


def predict_inputs(runtime: Runtime, decoder: CTCDecoder, inputs: Sequence[str], geometry: InputGeometry,
                   args: PredictArgs, writer: PredictionWriter) -> list[dict]:
    """Recognise every input (deploy/prediction.py's docstring): a clip of up to `args.window` frames whole, as
    the test phase reads a clip; a longer recording, and a live source, in windows (deploy/long_recording.py).
    Both runtimes' logits are decoded here, in NumPy, by `decoder`."""
    for window, overlap, keys in ((args.window, args.overlap, ""), (args.live_window, args.live_overlap, "live_")):
        problem = check_windows(window, overlap, runtime.stride)
        if problem:
            raise ConfigError(problem.replace("predict_args.", f"predict_args.{keys}"))
    one_frame = replace(geometry, frame_interval=1)
    stride = runtime.stride * geometry.frame_interval  # input frames per output step
    taken: set[str] = set()

    def recognise(frames: Iterator[np.ndarray], windows: dict[str, int],
                  report: LiveReport | None = None) -> LongRecognition:
        return recognise_long(frames, lambda frame: one_frame.prepare(frame[None])[0], runtime.run,
                              decoder.decode_array, window=windows["window"], overlap=windows["overlap"],
                              stride=runtime.stride, frame_interval=geometry.frame_interval, on_glosses=report,
                              on_sentences=report.sentences if report is not None and writer.translate_long else None,
                              pause_steps=writer.pause_steps(stride),
                              timeline=Timeline() if args.alignment_pictures else None)

    windows = {"window": args.window, "overlap": args.overlap}
    live_windows = {"window": args.live_window, "overlap": args.live_overlap}
    for item in progress(expand_inputs(inputs), desc="predict"):
        name = prediction_name(item, taken)
        if args.live or isinstance(item, str):
            source = str(item)
            report = LiveReport(source, stride, args.fps, writer.translate, args.max_lag)
            live = live_frames(source) if isinstance(item, str) else paced(input_frames(item), args.fps)
            logger.info("%s: recognising live (Ctrl-C ends it and writes what was recognised)", report.source)
            writer.add_long(item, name, recognise(report.frames(live), live_windows, report), stride, live_windows)
            continue
        raw = input_frames(item)
        head = list(itertools.islice(raw, args.window * geometry.frame_interval))
        following = next(raw, None)
        if following is None:  # a clip: read whole, as the test phase reads one
            frames = np.stack(head)
            logits = runtime.run(geometry.prepare(frames))
            writer.add(item, name, frames, decoder.decode_array(logits), stride,
                       softmax(logits) if args.alignment_pictures else None)
        else:
            logger.info("%s: longer than predict_args.window (%d frames): recognised in windows", item, args.window)
            writer.add_long(item, name, recognise(_drain(head, itertools.chain([following], raw)), windows), stride,
                            windows)
    return writer.finish()
