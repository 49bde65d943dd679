"""A preprocessed corpus's layout: the names of its files (gloss_dict.json, <split>_info.jsonl, the
ground-truth STMs) and where a configuration says they, and the frames, are. Preprocessing writes these
names and training, testing and the scorers read them, all from here."""
from __future__ import annotations

from pathlib import Path

from dataset.frame_layout import check_preprocessed_csl_daily
from dataset.info import InfoFile
from utils.config.merge import resolve_path
from utils.io import file_sha256
from utils.config.schema import Config, ConfigError

GLOSS_DICT_FILE = "gloss_dict.json"
# the official metadata shipped with this project: gloss dictionaries, split files, ground-truth STMs
SHIPPED_METADATA_DIR = Path(__file__).resolve().parents[1] / "preprocess" / "meta"


def shipped_gloss_dict(dataset: str) -> Path:
    """The official gloss dictionary of a known corpus (preprocess/meta/<dataset>/gloss_dict.json)."""
    return SHIPPED_METADATA_DIR / dataset / GLOSS_DICT_FILE


def info_file_name(split: str) -> str:
    return f"{split}_info.jsonl"


def stm_prefix(dataset: str) -> str:
    """The ground-truth STMs' default prefix: `<dataset>-groundtruth`."""
    return f"{dataset}-groundtruth"


def stm_file_name(prefix: str, split: str) -> str:
    return f"{prefix}-{split}.stm"


class DataPaths:
    """Where the gloss dictionary, info files, frames and ground-truth STMs of the configured dataset live."""

    def __init__(self, config: Config, info_dir: Path | None = None) -> None:
        info = config.dataset_info
        self.dataset = config.dataset
        self.info_dir = info_dir or resolve_path(info.info_dir or f"preprocess/{config.dataset}")
        self.gloss_dict = resolve_path(info.gloss_dict) if info.gloss_dict else self.info_dir / GLOSS_DICT_FILE
        self.stm_dir = resolve_path(info.evaluation_dir) if info.evaluation_dir else self.info_dir
        self.stm_prefix = info.evaluation_prefix or stm_prefix(config.dataset)
        self.frame_root = info.dataset_root
        self._read: dict[str, InfoFile] = {}

    def info_file(self, split: str) -> Path:
        return self.info_dir / info_file_name(split)

    def info(self, split: str) -> InfoFile:
        """The split's info file, parsed once per run however often datasets of the split are built."""
        if split not in self._read:
            self._read[split] = InfoFile.read(self.info_file(split))
        return self._read[split]

    def fingerprint(self) -> dict[str, str]:
        """The SHA-256 of the gloss dictionary and of every split's info file there is: which data a model was
        trained and evaluated on, without saying where it lies."""
        files = [self.gloss_dict, *(self.info_file(split) for split in ("train", "dev", "test"))]
        return {path.name: file_sha256(path) for path in files if path.is_file()}

    def stm(self, split: str) -> Path:
        return self.stm_dir / stm_file_name(self.stm_prefix, split)

    def frames(self, split: str) -> Path:
        """Frame root: the configured one, else the prefix header that preprocessing wrote. CSL-Daily
        frames that this project's preprocessing wrote (the info file names them) must have the
        official layout."""
        prefix = self.info(split).prefix
        root = resolve_path(self.frame_root) if self.frame_root else None
        if root is None:
            if not prefix:
                raise ConfigError(f"{self.info_file(split)} has no frame-root prefix: set dataset_info.dataset_root")
            root = resolve_path(prefix)
        if self.dataset == "CSL-Daily" and prefix and resolve_path(prefix).resolve() == root.resolve():
            check_preprocessed_csl_daily(root)
        return root
