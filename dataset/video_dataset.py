"""The frame-folder dataset: info records + gloss dictionary -> augmented uint8 clips and labels.

Randomness is a pure function of (seed, epoch, index), so a run is
reproducible whatever the number of DataLoader workers or their order.
Call `set_epoch` before each epoch; with `persistent_workers=True` the
workers keep their own copy, so use non-persistent workers (the default).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from dataset.errors import DataError
from dataset.frames import ReadGeometry, frame_glob, list_frame_files, read_frames, read_geometry, read_image_bgr
from dataset.gloss_dict import encode_label
from dataset.info import InfoFile
from dataset.paths import DataPaths
from dataset.transforms import (
    center_window,
    cut_frames,
    max_rescaled_length,
    random_window,
    rescale,
    subsample_indices,
    temporal_rescale_indices,
    temporal_rescale_length,
)
from utils.config.schema import Config, FeederArgs

logger = logging.getLogger(__name__)
DEFAULTS = FeederArgs()  # the schema owns the loading defaults


# The official feeder's __len__ is len(info) - 1, written for info dicts holding a 'prefix' entry besides the
# videos; the official CSL-Daily and CSL info files have none, so the last video of each split is never loaded
# (and scores as [EMPTY]). Published numbers include this.
LAST_VIDEO_UNREAD_OFFICIALLY = frozenset({"CSL-Daily", "CSL"})


def init_loader_worker(_worker_id: int) -> None:
    """DataLoader workers each decode one frame at a time: OpenCV's own threads would only compete with
    the other workers for the same cores."""
    cv2.setNumThreads(1)


@dataclass
class Sample:
    """One clip after augmentation, before normalisation and padding."""

    video: torch.Tensor  # uint8, T x H x W x 3, RGB
    label: list[int]
    info: dict = field(default_factory=dict)


class SignVideoDataset(Dataset):
    """Videos stored as frame folders, described by a `<split>_info.jsonl` file.

    Frames of a record are found at `record["folder"]` (a glob such as `dev/<id>/1/*.png`, or a directory of
    images) under `frame_root`, a folder taken literally even when its name holds glob characters.
    """

    def __init__(
        self,
        info: str | Path | InfoFile,
        gloss_dict: dict[str, int],
        frame_root: str | Path,
        *,
        mode: str = "train",
        input_size: int = DEFAULTS.input_size,
        image_scale: float = DEFAULTS.image_scale,
        frame_interval: int = DEFAULTS.frame_interval,
        temporal_scaling: float = DEFAULTS.temporal_scaling,
        skip_bad: bool = DEFAULTS.skip_bad,
        seed: int = 0,
        geometry: ReadGeometry = ReadGeometry(),
        temporal_min_len: int = 32,
        temporal_max_len: int = 230,
        skip_last: bool = False,
    ) -> None:
        if frame_interval < 1:
            raise ValueError(f"frame_interval must be >= 1, got {frame_interval}")
        if input_size < 1:
            raise ValueError(f"input_size must be >= 1, got {input_size}")
        info = info if isinstance(info, InfoFile) else InfoFile.read(info)
        self.info_path, records = info.path, info.records
        # `skip_last`: the official feeder's quirk (LAST_VIDEO_UNREAD_OFFICIALLY); `left_out` names what it skips
        self.records = records[:-1] if skip_last else records
        self.left_out = [str(record["fileid"]) for record in records[len(self.records):]]
        self.gloss_dict = gloss_dict
        self.frame_root = Path(frame_root)
        self.train = mode == "train"
        self.input_size = input_size
        self.image_scale = image_scale
        self.frame_interval = frame_interval
        self.temporal_scaling = temporal_scaling
        self.temporal_min_len = temporal_min_len
        self.temporal_max_len = max_rescaled_length(temporal_max_len, frame_interval)
        self.skip_bad = skip_bad
        self.seed = seed
        self.geometry = geometry
        self.epoch = 0

    def stored_frame_format(self) -> tuple[tuple[int, int], str]:
        """(height, width) and file suffix of the stored frames, from the first readable frame (a broken video
        is for the loader to report or skip)."""
        for record in self.records:
            try:
                first = list_frame_files(frame_glob(self.frame_root, record["folder"]))[0]
                return tuple(read_image_bgr(first, str(record["fileid"])).shape[:2]), first.suffix.lower()
            except DataError:
                continue
        raise DataError(f"{self.info_path}: no video has a readable first frame under {self.frame_root}")

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random draws `__getitem__` uses."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records)

    def rng_for(self, index: int) -> np.random.Generator:
        """The generator of one sample in the current epoch: independent of worker and order."""
        return np.random.default_rng([self.seed, self.epoch, index])

    def frame_indices(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
        """Which stored frames make up the clip: downsampling from a random offset (in every mode, as
        officially), then (train) the temporal rescale."""
        offset = int(rng.integers(0, min(self.frame_interval, num_frames)))
        indices = subsample_indices(num_frames, self.frame_interval, offset)
        if self.train and self.temporal_scaling > 0:
            chosen = temporal_rescale_indices(
                len(indices), rng, self.temporal_scaling, self.temporal_min_len, self.temporal_max_len
            )
            indices = indices[chosen]
        return indices

    def shortest_clip(self, num_frames: int) -> int:
        """The fewest frames `frame_indices` can give a video of `num_frames` stored frames: the latest offset,
        then (train) the shortest temporal rescale."""
        interval = min(self.frame_interval, num_frames)
        kept = len(subsample_indices(num_frames, self.frame_interval, max(interval - 1, 0)))
        if self.train and self.temporal_scaling > 0:
            return temporal_rescale_length(kept, 1.0 - self.temporal_scaling, self.temporal_min_len,
                                           self.temporal_max_len)
        return kept

    def load(self, index: int) -> Sample:
        """Read and augment one record; raises DataError naming the video on bad input."""
        record = self.records[index]
        video_id = str(record["fileid"])
        label = encode_label(str(record["label"]), self.gloss_dict, video_id)
        rng = self.rng_for(index)
        try:
            files = list_frame_files(frame_glob(self.frame_root, record["folder"]))
        except DataError as error:
            raise DataError(f"video {video_id!r}: {error}") from None
        indices = self.frame_indices(len(files), rng)
        unique, order = np.unique(indices, return_inverse=True)  # each chosen frame is decoded once
        frames = read_frames([files[i] for i in unique], video_id, self.geometry)
        height, width = frames.shape[1:3]
        if self.train:
            window = random_window(height, width, self.input_size, rng)
        else:
            window = center_window(height, width, self.input_size)
        clip = rescale(cut_frames(frames, order, window), self.image_scale)
        return Sample(torch.from_numpy(clip), label, dict(record))

    def __getitem__(self, index: int) -> Sample | None:
        try:
            return self.load(index)
        except (DataError, KeyError) as error:
            message = error.args[0] if error.args else str(error)
            if not self.skip_bad:
                raise DataError(message) from None
            logger.warning("skipping sample %d: %s", index, message)
            return None


def split_dataset(config: Config, paths: DataPaths, split: str, train: bool, gloss_dict: dict[str, int]) -> SignVideoDataset:
    """The dataset of one split exactly as a run of `config` reads it (training augmentation when `train`)."""
    feeder = config.feeder_args
    return SignVideoDataset(
        paths.info(split), gloss_dict, paths.frames(split), mode="train" if train else "test",
        input_size=feeder.input_size, image_scale=feeder.image_scale, frame_interval=feeder.frame_interval,
        temporal_scaling=feeder.temporal_scaling, skip_bad=feeder.skip_bad, seed=config.random_seed,
        geometry=read_geometry(config.dataset),
        skip_last=feeder.skip_last_video and config.dataset in LAST_VIDEO_UNREAD_OFFICIALLY,
    )
