"""The bundled demo corpus (`synthetic.enabled`): a synthetic corpus in the PHOENIX-2014 layout, generated and
then preprocessed through the same API as `python -m preprocess`, once per root; its info records carry each
sentence's translation (dataset/synthetic_grammar.py) for translation and joint training."""
from __future__ import annotations

import logging
from pathlib import Path

from dataset.errors import DataError
from dataset.info import read_info, write_info
from dataset.paths import info_file_name
from dataset.synthetic import generate_synthetic_corpus
from dataset.synthetic_grammar import synthetic_translation
from preprocess.pipeline import preprocess_corpus
from utils.config.merge import resolve_path
from utils.config.schema import Config

logger = logging.getLogger("slowfastsign")


def demo_info_dir(config: Config) -> Path:
    """Where the demo corpus's info files are: dataset_info.info_dir, else <synthetic.root>/preprocessed."""
    return resolve_path(config.dataset_info.info_dir or str(resolve_path(config.synthetic.root) / "preprocessed"))


def prepare_demo_corpus(config: Config) -> Path:
    """Generate and preprocess the demo corpus unless its info files are there already; its info folder."""
    synthetic = config.synthetic
    root, info_dir = resolve_path(synthetic.root), demo_info_dir(config)
    if (info_dir / info_file_name("test")).is_file():
        attach_translations(info_dir)
        return info_dir
    logger.info("Generating the synthetic corpus in %s", root)
    corpus = generate_synthetic_corpus(root, num_glosses=synthetic.num_glosses, train=synthetic.train,
                                       dev=synthetic.dev, test=synthetic.test, seed=synthetic.seed)
    logger.info("Preprocessing it into %s", info_dir)
    summary = preprocess_corpus("phoenix2014", corpus, info_dir, root / "frames", synthetic.output_size,
                                workers=max(1, min(config.num_worker, 4)))
    if summary.problems:
        raise DataError(f"preprocessing the synthetic corpus in {corpus} failed: {summary.problems[0]}")
    attach_translations(info_dir)
    return info_dir


def attach_translations(info_dir: Path) -> None:
    """Each info record's `translation`, from its glosses by the demo grammar (info files written before the demo
    had translations get them; the rest is left as it is)."""
    for split in ("train", "dev", "test"):
        path = info_dir / info_file_name(split)
        if not path.is_file():
            continue
        prefix, records = read_info(path)
        if all("translation" in record for record in records):
            continue
        for record in records:
            record["translation"] = synthetic_translation(str(record["label"]).split())
        write_info(path, records, prefix)
