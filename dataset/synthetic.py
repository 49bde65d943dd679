"""A small synthetic corpus in the real PHOENIX-2014 layout, learnable in minutes on a CPU.

Lets preprocessing, loading, training and evaluation run end to end without
the licence-gated corpora. Each gloss is a coloured "hand" blob that performs
one motion (rise, fall, shake, circle, pulse, bounce) for 8-12 frames over a
static signer silhouette. A gloss is identified by its motion *and* its colour
(several glosses share a colour, several share a motion), so a model has to
read the movement, not one static colour. Motions are chosen so that the
training-time horizontal flip never turns one gloss into another.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np

from utils.io import write_json_atomic, write_text_atomic
from utils.progress import progress

CORPUS_DIR = "phoenix-2014-multisigner"
FEATURES_DIR = "features/fullFrame-210x260px"
ANNOTATION_DIR = "annotations/manual"
GLOSS_NAMES = (
    "SONNE", "REGEN", "WOLKE", "SCHNEE", "WIND", "NORD", "SUED", "WEST", "OST",
    "MORGEN", "HEUTE", "KALT", "WARM", "GEWITTER", "NEBEL", "FROST", "GRAD", "NACHT",
)
MOTIONS = ("rise", "fall", "shake", "circle", "pulse", "bounce")
COLOURS_RGB = ((230, 50, 50), (40, 200, 60), (60, 100, 245))
MARKER = ".synthetic_complete.json"


def gloss_appearance(gloss_index: int) -> tuple[str, tuple[int, int, int]]:
    """(motion, RGB colour) of a gloss: motions cycle fastest, so glosses share colours and motions."""
    if not 0 <= gloss_index < len(MOTIONS) * len(COLOURS_RGB):
        raise ValueError(f"gloss index {gloss_index} out of range; at most {len(MOTIONS) * len(COLOURS_RGB)} glosses")
    return MOTIONS[gloss_index % len(MOTIONS)], COLOURS_RGB[gloss_index // len(MOTIONS)]


def blob_position(motion: str, progress: float, width: int, height: int) -> tuple[float, float, float]:
    """(x, y, radius scale) of the hand at `progress` in [0, 1] of a gloss, before jitter."""
    cx, cy = 0.5 * width, 0.55 * height
    turn = 2.0 * math.pi * progress
    if motion == "rise":
        return cx, (0.80 - 0.50 * progress) * height, 1.0
    if motion == "fall":
        return cx, (0.30 + 0.50 * progress) * height, 1.0
    if motion == "shake":
        return cx + 0.28 * width * math.sin(2 * turn), 0.45 * height, 1.0
    if motion == "circle":
        return cx + 0.25 * width * math.cos(turn), cy + 0.20 * height * math.sin(turn), 1.0
    if motion == "pulse":
        return cx, cy, 1.0 + 1.2 * math.sin(math.pi * progress)
    if motion == "bounce":
        return cx, cy + 0.22 * height * math.sin(2 * turn), 1.0
    raise ValueError(f"unknown motion {motion!r}")


def draw_background(width: int, height: int, shade: int) -> np.ndarray:
    """A static signer silhouette (head and torso) on a plain background, RGB."""
    frame = np.full((height, width, 3), shade, dtype=np.uint8)
    cv2.rectangle(frame, (int(0.25 * width), int(0.45 * height)), (int(0.75 * width), height), (90, 80, 70), -1)
    cv2.circle(frame, (width // 2, int(0.25 * height)), max(2, int(0.12 * min(width, height))), (200, 170, 140), -1)
    return frame


def render_gloss(
    gloss_index: int, num_frames: int, background: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Frames (num_frames x H x W x 3, RGB) of one gloss, with a small random offset and noise."""
    height, width = background.shape[:2]
    motion, colour = gloss_appearance(gloss_index)
    dx, dy = rng.uniform(-0.04, 0.04, size=2) * (width, height)
    radius = max(2.0, 0.08 * min(width, height))
    frames = np.repeat(background[None], num_frames, axis=0)
    for t in range(num_frames):
        x, y, scale = blob_position(motion, t / max(1, num_frames - 1), width, height)
        cv2.circle(frames[t], (int(round(x + dx)), int(round(y + dy))), int(round(radius * scale)), colour, -1)
    noise = rng.integers(-6, 7, size=frames.shape)
    return np.clip(frames.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def render_sentence(
    glosses: list[int], background: np.ndarray, rng: np.random.Generator, frames_per_gloss: tuple[int, int]
) -> np.ndarray:
    """Rest, the glosses one after another (each 8-12 frames by default), rest."""
    parts = [np.repeat(background[None], int(rng.integers(2, 5)), axis=0)]
    for gloss in glosses:
        parts.append(render_gloss(gloss, int(rng.integers(frames_per_gloss[0], frames_per_gloss[1] + 1)), background, rng))
    parts.append(np.repeat(background[None], int(rng.integers(2, 5)), axis=0))
    return np.concatenate(parts)


def sample_sentence(num_glosses: int, length_range: tuple[int, int], rng: np.random.Generator) -> list[int]:
    """A random gloss sequence without immediate repeats (so CTC targets need no separating blank)."""
    length = int(rng.integers(length_range[0], length_range[1] + 1))
    sentence: list[int] = []
    while len(sentence) < length:
        gloss = int(rng.integers(0, num_glosses))
        if not sentence or sentence[-1] != gloss:
            sentence.append(gloss)
    return sentence


def generate_synthetic_corpus(
    root: str | Path,
    *,
    num_glosses: int = 10,
    train: int = 96,
    dev: int = 16,
    test: int = 16,
    frame_size: tuple[int, int] = (104, 128),
    seed: int = 0,
    glosses_per_sentence: tuple[int, int] = (2, 5),
    frames_per_gloss: tuple[int, int] = (8, 12),
    num_signers: int = 3,
) -> Path:
    """Write the corpus under `<root>/phoenix-2014-multisigner` and return that directory.

    `frame_size` is (width, height) like the corpus's "210x260px". The layout
    is the released one: `annotations/manual/{split}.corpus.csv` with header
    `id|folder|signer|annotation` and frames at
    `features/fullFrame-210x260px/{split}/{id}/1/*.png` (the folder keeps its
    real name whatever `frame_size` is). Idempotent: a finished corpus with the
    same parameters is left as it is.
    """
    if not 1 <= num_glosses <= len(GLOSS_NAMES):
        raise ValueError(f"num_glosses must be in [1, {len(GLOSS_NAMES)}], got {num_glosses}")
    corpus = Path(root) / CORPUS_DIR
    params = {
        "num_glosses": num_glosses, "train": train, "dev": dev, "test": test, "frame_size": list(frame_size),
        "seed": seed, "glosses_per_sentence": list(glosses_per_sentence),
        "frames_per_gloss": list(frames_per_gloss), "num_signers": num_signers,
    }
    marker = corpus / MARKER
    if marker.is_file() and json.loads(marker.read_text(encoding="utf-8")) == params:
        return corpus
    width, height = frame_size
    rng = np.random.default_rng(seed)
    signers = [(f"Signer{i + 1:02d}", 150 + 25 * i) for i in range(num_signers)]
    for split, count in (("train", train), ("dev", dev), ("test", test)):
        rows = ["id|folder|signer|annotation"]
        for number in progress(range(count), desc=f"synthetic {split}", leave=False):
            video_id = f"synthetic_{split}_{number:05d}"
            signer, shade = signers[int(rng.integers(0, num_signers))]
            glosses = sample_sentence(num_glosses, glosses_per_sentence, rng)
            frames = render_sentence(glosses, draw_background(width, height, shade), rng, frames_per_gloss)
            folder = corpus / FEATURES_DIR / split / video_id / "1"
            folder.mkdir(parents=True, exist_ok=True)
            for stale in folder.glob("*.png"):
                stale.unlink()
            for t, frame in enumerate(frames):
                cv2.imwrite(str(folder / f"{video_id}.avi_pid0_fn{t:06d}-0.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            label = " ".join(GLOSS_NAMES[g] for g in glosses)
            rows.append(f"{video_id}|{video_id}/1/*.png|{signer}|{label}")
        write_text_atomic(corpus / ANNOTATION_DIR / f"{split}.corpus.csv", "\n".join(rows) + "\n")
    write_json_atomic(marker, params)
    return corpus
