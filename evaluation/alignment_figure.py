"""A picture of what the model recognised in one video: frames along time, the glosses' spans, the posteriors."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

if TYPE_CHECKING:
    from decoding.ctc_decoder import DecodedSequence

THUMBNAILS = 12
TOP_CLASSES = 8


def top_classes(posteriors: np.ndarray, blank_id: int = 0, count: int = TOP_CLASSES) -> list[int]:
    """The blank, then the classes with the highest peak posterior, most confident first."""
    peaks = posteriors.max(axis=0).copy()
    peaks[blank_id] = -1.0
    ranked = [int(c) for c in np.argsort(-peaks, kind="stable")[: count - 1]]
    return [blank_id] + ranked


def thumbnail_strip(frames: np.ndarray, count: int = THUMBNAILS, height: int = 64) -> np.ndarray:
    """`count` frames evenly spread over the clip, scaled to `height` pixels and laid side by side."""
    picks = np.linspace(0, len(frames) - 1, num=min(count, len(frames))).round().astype(int)
    width = max(1, round(frames.shape[2] * height / frames.shape[1]))
    return np.concatenate([cv2.resize(np.ascontiguousarray(frames[k]), (width, height)) for k in picks], axis=1)


def alignment_figure(frames: np.ndarray, posteriors: np.ndarray, glosses: Sequence[str],
                     spans: Sequence[tuple[int, int]], vocabulary: Sequence[str], stride: int, title: str,
                     blank_id: int = 0) -> Figure:
    """Three rows on one frame axis: thumbnails, the recognised glosses as labelled spans (`spans` in output
    steps, each `stride` frames), and the per-step posteriors of the blank and the top classes."""
    num_frames = len(frames)
    steps = posteriors.shape[0]
    figure, (strip, spans_axes, heat) = plt.subplots(
        3, 1, figsize=(11, 6.2), sharex=True, gridspec_kw={"height_ratios": [1.3, 0.6, 2.2]})
    strip.imshow(thumbnail_strip(frames), extent=(0, num_frames, 0, 1), aspect="auto")
    strip.set_yticks([])
    strip.set_title(title)
    draw_gloss_spans(spans_axes, glosses, spans, stride, num_frames, fontsize=8)
    classes = top_classes(posteriors, blank_id)
    image = heat.imshow(posteriors[:, classes].T, extent=(0, steps * stride, len(classes) - 0.5, -0.5),
                        aspect="auto", cmap="magma", vmin=0.0, vmax=1.0, interpolation="nearest")
    heat.set_yticks(range(len(classes)), [vocabulary[c] for c in classes], fontsize=8)
    heat.set_xlabel("frame")
    heat.set_ylabel("class")
    heat.set_xlim(0, num_frames)
    figure.colorbar(image, ax=[strip, spans_axes, heat], label="posterior probability", fraction=0.025, pad=0.01)
    return figure


def draw_gloss_spans(axes: Axes, glosses: Sequence[str], spans: Sequence[tuple[int, int]], step: float, length: float,
                     fontsize: int, narrow: float = 0.04) -> None:
    """The recognised glosses as coloured, labelled spans on `axes`, whose x axis runs to `length` with each
    output step `step` long; the label of a span narrower than `narrow` of the axis stands upright."""
    colours = plt.get_cmap("tab10")
    for k, (gloss, (start, end)) in enumerate(zip(glosses, spans)):
        first, last = start * step, min(end * step, length)
        axes.axvspan(first, last, color=colours(k % 10), alpha=0.45)
        axes.text((first + last) / 2, 0.5, gloss, ha="center", va="center", fontsize=fontsize,
                  rotation=90 if last - first < narrow * length else 0)
    axes.set_ylim(0, 1)
    axes.set_yticks([])
    axes.set_ylabel("glosses", rotation=0, ha="right", va="center")


def save_alignment_picture(out_dir: Path, name: str, frames: np.ndarray, posteriors: np.ndarray,
                           decoded: DecodedSequence, vocabulary: Sequence[str], stride: int) -> None:
    """<out_dir>/<name>.alignment.png: the clip's frames, its posteriors and the glosses recognised."""
    from evaluation.analysis_charts import save_figure

    title = f"{name}: {' '.join(decoded.glosses) or '(nothing recognised)'}"
    save_figure(alignment_figure(frames, posteriors, decoded.glosses, decoded.spans, vocabulary, stride, title),
                out_dir / f"{name}.alignment.png")


def timeline_figure(thumbnails: Sequence[tuple[int, np.ndarray]], num_frames: int, blank: Sequence[float],
                    best: Sequence[tuple[int, float]], glosses: Sequence[str], spans: Sequence[tuple[int, int]],
                    vocabulary: Sequence[str], stride: int, fps: float, title: str, steps_per_point: int = 1) -> Figure:
    """A long recording at a glance, in seconds: frames spread over it, the glosses' spans, and per output step
    (or per `steps_per_point` steps, pooled) the probability that a gloss is being signed (1 - blank) with the
    most probable gloss's own posterior."""
    seconds = num_frames / fps
    figure, (strip, spans_axes, curve) = plt.subplots(
        3, 1, figsize=(14, 5.6), sharex=True, gridspec_kw={"height_ratios": [1.0, 0.8, 1.6]})
    for index, image in thumbnails:
        width = max(seconds / max(len(thumbnails), 1), 1e-6)
        strip.imshow(image, extent=(index / fps, index / fps + width, 0, 1), aspect="auto")
    strip.set_ylim(0, 1)
    strip.set_yticks([])
    strip.set_title(title)
    draw_gloss_spans(spans_axes, glosses, spans, stride / fps, seconds, fontsize=7, narrow=0.02)
    times = (np.arange(len(blank)) + 0.5) * steps_per_point * stride / fps
    curve.plot(times, 1.0 - np.asarray(blank, dtype=float), lw=0.8, label="a gloss (1 - blank)")
    curve.plot(times, [p for _, p in best], lw=0.8, alpha=0.7, label="the most probable gloss")
    curve.set_ylim(0, 1.02)
    curve.set_xlim(0, seconds)
    curve.set_xlabel("seconds")
    curve.set_ylabel("posterior")
    curve.legend(loc="upper right", fontsize=8)
    curve.grid(alpha=0.3)
    return figure


def save_timeline_picture(out_dir: Path, name: str, timeline: Any, num_frames: int, decoded: DecodedSequence,
                          vocabulary: Sequence[str], stride: int, fps: float) -> None:
    """<out_dir>/<name>.alignment.png for a recording recognised in windows (deploy/timeline.Timeline's data):
    timeline_figure."""
    from evaluation.analysis_charts import save_figure

    title = f"{name}: {len(decoded.glosses)} glosses in {num_frames / fps:.0f} s"
    series = timeline.steps
    save_figure(timeline_figure(timeline.thumbnails.kept, num_frames, series.blank, series.best, decoded.glosses,
                                decoded.spans, vocabulary, stride, fps, title, series.steps_per_point),
                out_dir / f"{name}.alignment.png")
