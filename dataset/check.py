"""Check a corpus before a long run: exactly what `python main.py` with the same configuration would read.

    python -m dataset.check --config configs/custom.yaml [KEY=VALUE ...] [--all]

For the training split and every evaluated split: every info record's frames exist and their count matches the
record; frames decode (the first, middle and last of a sample of videos, or every frame with --all); every
gloss is in the gloss dictionary; each clip is long enough for CTC to align its label at the shortest length
training can give it (the latest frame_interval offset, then the shortest temporal rescale; one output step
per 4 frames for the released head, one step per gloss and one between repeats); glosses of the evaluated
splits that training never sees; signers shared with training. Prints one table per split, draws
`<work_dir>/data_check.png` (clip lengths, glosses per clip, gloss frequency) and exits 1 when something would
stop or silently harm training, 0 otherwise. An id, signer or gloss that the scoring files cannot carry (in an
info file preprocessed before such values were refused) stops it at once, in one line naming the info file's line.
"""
from __future__ import annotations

import random
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dataset.errors import DataError
from dataset.gloss_dict import load_gloss_dict
from dataset.paths import DataPaths
from utils.cli import ArgumentParser, run_command
from utils.config.command_line import config_from_args
from utils.config.schema import Config
from utils.kernel_spec import KernelLayer, feature_length, padded_length, parse_kernel_spec
from utils.progress import progress

if TYPE_CHECKING:  # the frame readers load OpenCV and torch: imported where frames are read, so --help is quick
    from dataset.video_dataset import SignVideoDataset

PICTURE = "data_check.png"
SAMPLED_VIDEOS = 200  # videos per split whose first, middle and last frames are decoded (all with --all)


@dataclass
class SplitCheck:
    """What one split holds and what is wrong with it; the lists hold one line per video."""

    split: str
    frames: list[int] = field(default_factory=list)
    glosses_per_clip: list[int] = field(default_factory=list)
    gloss_counts: Counter = field(default_factory=Counter)
    signers: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)
    undecodable: list[str] = field(default_factory=list)
    count_differs: list[str] = field(default_factory=list)
    infeasible: list[str] = field(default_factory=list)
    unknown_glosses: Counter = field(default_factory=Counter)
    decoded_videos: int = 0

    @property
    def videos(self) -> int:
        return len(self.frames)


def output_steps(frames: int, layers: list[KernelLayer]) -> int:
    """The temporal head's output steps for a clip of `frames` frames, padded as the collate pads it."""
    return feature_length(padded_length(frames, layers), layers)


def check_split(dataset: SignVideoDataset, split: str, gloss_dict: dict, layers: list[KernelLayer],
                decode_all: bool, rng: random.Random) -> SplitCheck:
    """Every record of the split as `dataset` would read it."""
    import cv2

    from dataset.frames import frame_glob, list_frame_files
    from modules.losses import ctc_required_length

    check = SplitCheck(split)
    records = dataset.records
    decoded = set(range(len(records))) if decode_all else set(rng.sample(range(len(records)),
                                                                        min(SAMPLED_VIDEOS, len(records))))
    check.decoded_videos = len(decoded)
    for index, record in enumerate(progress(records, desc=f"check {split}", unit="video")):
        fileid, glosses = str(record["fileid"]), str(record["label"]).split()
        check.glosses_per_clip.append(len(glosses))
        check.gloss_counts.update(glosses)
        check.signers.add(str(record.get("signer", "")))
        check.unknown_glosses.update(g for g in glosses if g not in gloss_dict)
        try:
            files = list_frame_files(frame_glob(dataset.frame_root, record["folder"]))
        except DataError as error:
            check.missing.append(f"{fileid}: {error}")
            check.frames.append(int(record.get("num_frames", 0)))
            continue
        check.frames.append(len(files))
        if "num_frames" in record and int(record["num_frames"]) != len(files):
            check.count_differs.append(f"{fileid}: the info file says {record['num_frames']} frames, "
                                       f"{len(files)} found")
        if index in decoded:
            chosen = files if decode_all else sorted({files[0], files[len(files) // 2], files[-1]})
            bad = [path for path in chosen if cv2.imread(str(path), cv2.IMREAD_COLOR) is None]
            if bad:
                check.undecodable.append(f"{fileid}: {len(bad)} frame(s) do not decode, e.g. {bad[0]}")
        steps, needed = output_steps(dataset.shortest_clip(len(files)), layers), ctc_required_length(glosses)
        if steps < needed:
            check.infeasible.append(f"{fileid}: {len(files)} frames give as few as {steps} output steps; "
                                    f"its {len(glosses)} glosses need {needed}")
    return check


def check_corpus(config: Config, decode_all: bool = False, seed: int = 0) -> list[SplitCheck]:
    """The training split and every evaluated split with an info file, as a run of `config` reads them."""
    from dataset.video_dataset import split_dataset

    paths = DataPaths(config)
    gloss_dict = load_gloss_dict(paths.gloss_dict)
    layers = parse_kernel_spec(config.model_args.conv_type)
    rng = random.Random(seed)
    checks = []
    for split in ["train", *(s for s in config.dataset_info.eval_splits if s != "train")]:
        if split != "train" and not paths.info_file(split).is_file():
            continue
        dataset = split_dataset(config, paths, split, split == "train", gloss_dict)
        checks.append(check_split(dataset, split, gloss_dict, layers, decode_all, rng))
    return checks


def harmful(checks: list[SplitCheck], max_infeasible: float) -> list[str]:
    """What would stop training or silently spoil it: one line each."""
    lines = []
    for check in checks:
        if check.videos == 0:
            lines.append(f"{check.split}: the split is empty")
        for kind, entries in (("missing frames", check.missing), ("undecodable frames", check.undecodable)):
            if entries:
                lines.append(f"{check.split}: {len(entries)} videos with {kind}, e.g. {entries[0]}")
        if check.unknown_glosses:
            lines.append(f"{check.split}: {len(check.unknown_glosses)} glosses are not in the gloss dictionary, "
                         f"e.g. {', '.join(sorted(check.unknown_glosses)[:5])}")
        if check.split == "train" and len(check.infeasible) > max_infeasible * max(check.videos, 1):
            lines.append(f"train: {len(check.infeasible)} of {check.videos} clips are too short for their labels "
                         f"under CTC (more than {100 * max_infeasible:g}%; training leaves them out), e.g. "
                         f"{check.infeasible[0]}")
    return lines


def _spread(values: list[int]) -> str:
    return f"{min(values)} / {statistics.median(values):g} / {max(values)}" if values else "-"


def table(check: SplitCheck, train: SplitCheck | None) -> str:
    """The split's figures, one row each."""
    rows = [("videos", f"{check.videos}"), ("frames per video (min / median / max)", _spread(check.frames)),
            ("glosses per video (min / median / max)", _spread(check.glosses_per_clip)),
            ("distinct glosses", f"{len(check.gloss_counts)}"),
            ("videos with missing frames", f"{len(check.missing)}"),
            (f"videos with undecodable frames (of {check.decoded_videos} decoded)", f"{len(check.undecodable)}"),
            ("videos whose frame count differs from the info file", f"{len(check.count_differs)}"),
            ("clips too short for their labels under CTC", f"{len(check.infeasible)}"),
            ("glosses not in the gloss dictionary", f"{len(check.unknown_glosses)}")]
    if train is not None and check is not train:
        unseen = set(check.gloss_counts) - set(train.gloss_counts)
        rows.append(("glosses never seen in training", f"{len(unseen)} ({sum(check.gloss_counts[g] for g in unseen)}"
                                                         f" occurrences)" + (f", e.g. {', '.join(sorted(unseen)[:5])}"
                                                                             if unseen else "")))
        rows.append(("signers also in training", f"{len(check.signers & train.signers)} of {len(check.signers)}"))
    width = max(len(name) for name, _ in rows)
    return "\n".join([f"{check.split}:"] + [f"  {name:<{width}}  {value}" for name, value in rows])


def draw(checks: list[SplitCheck], path: Path) -> None:
    """Clip lengths and glosses per clip per split, and the training glosses' frequencies by rank."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from evaluation.analysis_charts import save_figure

    figure, (lengths, glosses, frequency) = plt.subplots(1, 3, figsize=(14, 4))
    for check in checks:
        if check.videos:
            lengths.hist(check.frames, bins=30, alpha=0.6, label=f"{check.split} ({check.videos})")
            glosses.hist(check.glosses_per_clip, bins=range(1, max(check.glosses_per_clip) + 2), alpha=0.6,
                         label=check.split, align="left")
    lengths.set(xlabel="frames per video", ylabel="videos", title="Clip lengths")
    glosses.set(xlabel="glosses per video", ylabel="videos", title="Glosses per clip")
    train = next((c for c in checks if c.split == "train"), None)
    if train is not None and train.gloss_counts:
        counts = sorted(train.gloss_counts.values(), reverse=True)
        frequency.plot(range(1, len(counts) + 1), counts, marker="." if len(counts) < 50 else None)
        if counts[0] > 20 * counts[-1]:  # a long tail, as in real corpora
            frequency.set_yscale("log")
        frequency.set_ylim(bottom=0 if frequency.get_yscale() == "linear" else None)
    frequency.set(xlabel="gloss rank", ylabel="occurrences in train", title="Gloss frequency (train)")
    for axis in (lengths, glosses):
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=9)
    figure.tight_layout()
    save_figure(figure, path)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m dataset.check", description=__doc__.split("\n\n")[0],
                            epilog="Other arguments are main.py's: --config, flags and KEY=VALUE overrides.")
    parser.add_argument("--all", action="store_true", help="decode every frame (default: 3 frames of a sample "
                        f"of {SAMPLED_VIDEOS} videos per split)")
    parser.add_argument("--max-infeasible", type=float, default=0.01,
                        help="share of training clips too short for CTC above which the check fails (default 0.01)")
    parser.add_argument("--picture", type=Path, default=None, help=f"where to draw the picture (default "
                        f"<work_dir>/{PICTURE})")
    return parser


def _check(argv: list[str] | None) -> int:
    args, config_args = build_parser().parse_known_args(argv)
    config = config_from_args(config_args)
    checks = check_corpus(config, args.all, config.random_seed)
    train = next((c for c in checks if c.split == "train"), None)
    for check in checks:
        print(table(check, train))
    picture = args.picture or Path(config.work_dir) / PICTURE
    draw(checks, picture)
    print(f"picture: {picture}")
    problems = harmful(checks, args.max_infeasible)
    for line in problems:
        print(f"problem: {line}")
    print("the data would stop or harm training" if problems else "the data looks ready for training")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    """0 when the data is ready, 1 when something would stop or harm training (one `error:` line on bad input)."""
    return run_command(_check, argv)


if __name__ == "__main__":
    raise SystemExit(main())
