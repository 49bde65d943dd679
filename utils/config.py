"""The configuration schema: every key, its default and what it does, in one place.

Experiment YAMLs in configs/ only override these defaults. Unknown keys fail with
the closest valid key, so a typo never silently trains the wrong model. The
command line can override any key: official flags (`--work-dir`, `--loss-weights
Slow=0.25 Fast=0.25`, ...) and generic dotted overrides (`model_args.hidden_size=512`).
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from modules.losses import DEFAULT_LOSS_WEIGHTS, LOSS_KEYS
from modules.slowfast import STAGE_NAMES
from utils.cli import ArgumentParser
from utils.errors import UserError

# Kernel specs of the official `conv_type` numbers, so old configs keep working.
OFFICIAL_CONV_TYPES = {
    0: "K3", 1: "K5 P2", 2: "K5 P2 K5 P2", 3: "K5 K5 P2", 4: "K5 K5", 5: "K5 P2 K5",
    6: "P2 K5 K5", 7: "P2 K5 P2 K5", 8: "P2 P2 K5 K5", 9: "K5 K5 P2", 10: "K5 K5",
}
PHASES = ("train", "test", "features", "predict")


def opt(default: Any, help: str) -> Any:
    """A schema entry: its default and a one-line explanation (used for --help and the README)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class FeederArgs:
    input_size: int = opt(224, "side of the square crop fed to the network (random in train, centre in test)")
    image_scale: float = opt(1.0, "resize after cropping: a ratio if <= 1, an absolute side in pixels if > 1")
    frame_interval: int = opt(1, "keep every n-th frame (random offset in training)")
    temporal_scaling: float = opt(0.2, "training temporal rescale range +-x of the clip length")
    skip_bad: bool = opt(False, "skip (and count) samples with missing/corrupt frames instead of stopping")


@dataclass
class DatasetInfo:
    dataset_root: str = opt("", "root of the preprocessed frames (record 'folder' globs are relative to it)")
    info_dir: str = opt("", "folder with gloss_dict.json and <split>_info.jsonl (default: preprocess/<dataset>)")
    gloss_dict: str = opt("", "gloss dictionary (default: <info_dir>/gloss_dict.json)")
    evaluation_dir: str = opt("", "folder of the ground-truth STM files (default: <info_dir>)")
    evaluation_prefix: str = opt("", "STM file prefix (default: <dataset>-groundtruth)")
    eval_splits: list = opt(["dev", "test"], "splits decoded and scored at evaluation time")


@dataclass
class ModelArgs:
    num_classes: int = opt(0, "output classes incl. blank; 0 = size of the gloss dictionary + 1")
    backbone: str = opt("configs/backbone/slowfast_r101_64x2.yaml", "SlowFast backbone config (YAML path)")
    conv_type: Any = opt("K5 P2 K5 P2", "temporal head spec (K<k> conv, P<p> pool) or an official conv_type number")
    hidden_size: int = opt(1024, "width of the temporal convs and BiLSTM outputs")
    share_classifier: bool = opt(True, "conv logits use the BiLSTM classifiers (as released)")
    lstm_dropout: float = opt(0.3, "dropout between BiLSTM layers")
    pretrained_backbone: str = opt("", "Kinetics-400 Caffe2 pickle (SLOWFAST_64x2_R101_50_50.pkl) to initialise from")
    activation_checkpointing: Any = opt([], "backbone stages (s1..s5), or true for all, to recompute in backward: less memory, ~1/3 more time")


@dataclass
class DecodeArgs:
    beam_width: int = opt(10, "CTC beam width")
    cutoff_top_n: int = opt(40, "classes per step a prefix may be extended with (ctcdecode's cutoff_top_n)")
    backend: str = opt("builtin", "beam search: builtin (equal to ctcdecode), ctcdecode (the package), flashlight (KenLM fusion; not ctcdecode-equivalent)")
    lm_path: str = opt("", "KenLM language model (ARPA or binary) over glosses; flashlight backend only")
    lm_weight: float = opt(0.0, "language model weight (flashlight backend)")
    word_score: float = opt(0.0, "score added per emitted gloss (flashlight backend)")


@dataclass
class OptimizerArgs:
    optimizer: str = opt("Adam", "Adam or SGD")
    base_lr: float = opt(1e-4, "initial learning rate")
    weight_decay: float = opt(1e-4, "L2 weight decay")
    scheduler: str = opt("multistep", "learning-rate schedule: multistep or cosine")
    step: list = opt([40, 60], "multistep milestones (epochs)")
    gamma: float = opt(0.2, "multistep decay factor")
    momentum: float = opt(0.9, "SGD momentum")
    nesterov: bool = opt(False, "SGD Nesterov momentum")
    fused: bool = opt(True, "Adam's fused kernel on CUDA (the same update in fewer launches)")
    start_epoch: int = opt(0, "first epoch number when not resuming")


@dataclass
class SyntheticCorpus:
    enabled: bool = opt(False, "generate and preprocess the synthetic PHOENIX-layout corpus before running")
    root: str = opt("demo_data/synthetic", "where the raw synthetic corpus is written")
    output_size: int = opt(80, "side of the preprocessed frames (the real corpora use 256)")
    num_glosses: int = opt(8, "vocabulary size")
    train: int = opt(160, "training sentences")
    dev: int = opt(40, "dev sentences")
    test: int = opt(40, "test sentences")
    seed: int = opt(0, "generator seed")


@dataclass
class PredictArgs:
    inputs: list = opt([], "videos (mp4, ...), frame folders or frame globs to recognise")
    output_dir: str = opt("", "where predictions go (default: <work_dir>/predictions)")
    frame_size: int = opt(256, "frames are resized to this square size before the centre crop, as in preprocessing")
    fps: float = opt(25.0, "frame rate used to turn frame spans into seconds in the CTM")
    alignment_pictures: bool = opt(True, "a picture of frames, recognised glosses and posteriors per input (<name>.alignment.png)")


@dataclass
class Config:
    phase: str = opt("train", "train, test, features or predict")
    dataset: str = opt("phoenix2014", "phoenix2014, phoenix2014-T, CSL-Daily or CSL (selects STMs and normalisation)")
    work_dir: str = opt("./work_dir/temp/", "checkpoints, logs, CTM/STM files and reports go here")
    device: str = opt("0", "GPU indexes such as '0' or '0,1', or 'cpu'; CPU is used when CUDA is absent")
    random_seed: int = opt(0, "seed of every random generator (bit-reproducible runs on CPU)")
    num_epoch: int = opt(80, "epochs to train")
    batch_size: int = opt(2, "training clips per step (per process under torchrun)")
    test_batch_size: int = opt(2, "clips per evaluation step")
    num_worker: int = opt(4, "data loader processes")
    log_interval: int = opt(50, "iterations between log lines")
    eval_interval: int = opt(1, "epochs between evaluations on the eval splits")
    save_interval: int = opt(5, "epochs between kept checkpoints (the latest is always kept for resuming)")
    max_steps_per_epoch: int = opt(0, "stop each epoch after this many steps (0 = whole epoch); for smoke tests")
    evaluate_tool: str = opt("python", "scorer whose WER selects the best checkpoint: python (the official Python scorer, the official default) or sclite (NIST rules; the binary also runs when found); both WERs are always reported")
    sclite_path: str = opt("", "explicit sclite binary (default: PATH, then /usr/lib/sctk/bin/sclite)")
    load_weights: str = opt("", "checkpoint whose model weights initialise the model (ours or official)")
    load_checkpoints: str = opt("", "checkpoint to resume training from (model, optimizer, scheduler, RNG)")
    test_after_train: bool = opt(False, "after training, evaluate best_model.pt on the eval splits and print the report")
    analysis: bool = opt(True, "test phase: error analysis per split in <work_dir>/analysis/<split>/ (JSON, Markdown, charts)")
    alignment_pictures: bool = opt(False, "test phase: also a picture of frames, glosses and posteriors per video in <work_dir>/alignments/<split>/")
    resume: bool = opt(True, "resume automatically from <work_dir>/last_checkpoint.pt when it exists")
    ignore_weights: list = opt([], "key prefixes dropped from --load-weights (e.g. classifier when classes differ)")
    decode_mode: str = opt("beam", "beam or max (greedy)")
    amp: bool = opt(True, "mixed precision (float16 autocast + GradScaler) for training on CUDA")
    eval_amp: bool = opt(False, "also run evaluation, features and predict under autocast (official: float32)")
    amp_dtype: str = opt("float16", "autocast dtype on CUDA: float16 (with GradScaler, as officially) or bfloat16 (no scaler needed)")
    channels_last: bool = opt(False, "channels_last_3d memory format for the network and its input (a CUDA speed lever)")
    deterministic: bool = opt(False, "deterministic cuDNN kernels instead of autotuning (cudnn.benchmark); repeatable CUDA runs, slower")
    sync_bn: bool = opt(False, "SyncBatchNorm across processes under torchrun")
    loss_weights: dict = opt(dict(DEFAULT_LOSS_WEIGHTS), "SeqCTC, ConvCTC, Dist (main branch) and Slow, Fast (PFE)")
    feeder_args: FeederArgs = field(default_factory=FeederArgs, metadata={"help": "data loading and augmentation"})
    dataset_info: DatasetInfo = field(default_factory=DatasetInfo, metadata={"help": "where the data lives"})
    model_args: ModelArgs = field(default_factory=ModelArgs, metadata={"help": "network shape"})
    decode_args: DecodeArgs = field(default_factory=DecodeArgs, metadata={"help": "CTC decoding"})
    optimizer_args: OptimizerArgs = field(default_factory=OptimizerArgs, metadata={"help": "optimiser and schedule"})
    synthetic: SyntheticCorpus = field(default_factory=SyntheticCorpus, metadata={"help": "bundled demo data"})
    predict_args: PredictArgs = field(default_factory=PredictArgs, metadata={"help": "the predict phase"})


class ConfigError(UserError, ValueError):
    """A configuration problem, reported in one line; like a command-line usage error, exit code 2."""

    exit_code = 2


def _section_type(cls: type, name: str) -> type | None:
    hint = typing.get_type_hints(cls)[name]
    return hint if dataclasses.is_dataclass(hint) else None


def _closest(name: str, valid: Sequence[str], prefix: str = "") -> str:
    match = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    return f"; did you mean '{prefix}{match[0]}'?" if match else f"; valid keys: {', '.join(prefix + v for v in valid)}"


def _merge(target: Any, values: Mapping[str, Any], prefix: str, source: str) -> None:
    valid = [f.name for f in dataclasses.fields(target)]
    for key, value in values.items():
        key = key.replace("-", "_")
        path = f"{prefix}{key}"
        if key not in valid:
            raise ConfigError(f"{source}: unknown config key '{path}'{_closest(key, valid, prefix)}")
        section = _section_type(type(target), key)
        if section is not None:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: '{path}' must be a mapping of {section.__name__} keys")
            _merge(getattr(target, key), value, f"{path}.", source)
        elif key == "loss_weights":
            merged = dict(getattr(target, key)) if prefix == "" and source.startswith("command line") else {}
            for name, weight in (value or {}).items():
                merged[name] = _typed(weight, float, f"{path}.{name}", source)
            setattr(target, key, merged)
        else:
            setattr(target, key, _typed(value, typing.get_type_hints(type(target))[key], path, source))


_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string", list: "a list",
               dict: "a mapping"}


def _typed(value: Any, kind: Any, path: str, source: str) -> Any:
    """`value` as the schema's type for `path`, or a ConfigError naming the key, the value and the type."""
    if kind is Any:
        return value
    ok = {
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        bool: isinstance(value, bool),
        str: isinstance(value, (str, int, float)) and not isinstance(value, bool),
        list: isinstance(value, list),
        dict: isinstance(value, dict),
    }[kind]
    if not ok:
        raise ConfigError(f"{source}: '{path}' must be {_TYPE_NAMES[kind]}, got {value!r}")
    return float(value) if kind is float else str(value) if kind is str else value


def parse_value(text: str) -> Any:
    """Turn a command-line value into int, float, bool, list or str the way YAML would."""
    value = yaml.safe_load(text) if text != "" else ""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _set_dotted(values: dict, dotted: str, value: Any) -> None:
    node = values
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def validate(config: Config) -> Config:
    """Reject values that would only fail later, deep inside a run."""
    if config.phase not in PHASES:
        raise ConfigError(f"phase must be one of {', '.join(PHASES)}, got '{config.phase}'")
    if config.decode_mode not in ("beam", "max"):
        raise ConfigError(f"decode_mode must be beam or max, got '{config.decode_mode}'")
    if config.decode_args.backend not in ("builtin", "ctcdecode", "flashlight"):
        raise ConfigError(f"decode_args.backend must be builtin, ctcdecode or flashlight, got '{config.decode_args.backend}'")
    if (config.decode_args.lm_path or config.decode_args.word_score) and config.decode_args.backend != "flashlight":
        raise ConfigError("decode_args.lm_path/word_score need decode_args.backend=flashlight")
    if config.amp_dtype not in ("float16", "bfloat16"):
        raise ConfigError(f"amp_dtype must be float16 or bfloat16, got '{config.amp_dtype}'")
    if config.evaluate_tool not in ("python", "sclite"):
        raise ConfigError(f"evaluate_tool must be python or sclite, got '{config.evaluate_tool}'")
    unknown = sorted(set(config.loss_weights) - set(LOSS_KEYS))
    if unknown:
        raise ConfigError(f"unknown loss weight(s) {unknown}{_closest(unknown[0], LOSS_KEYS)}")
    if isinstance(config.model_args.conv_type, int):
        if config.model_args.conv_type not in OFFICIAL_CONV_TYPES:
            raise ConfigError(f"model_args.conv_type {config.model_args.conv_type} is not an official conv_type number")
        config.model_args.conv_type = OFFICIAL_CONV_TYPES[config.model_args.conv_type]
    try:
        from utils.kernel_spec import parse_kernel_spec

        parse_kernel_spec(config.model_args.conv_type)
    except ValueError as error:
        raise ConfigError(f"model_args.conv_type: {error}") from None
    if config.optimizer_args.optimizer not in ("Adam", "SGD"):
        raise ConfigError(f"optimizer_args.optimizer must be Adam or SGD, got '{config.optimizer_args.optimizer}'")
    if config.optimizer_args.scheduler not in ("multistep", "cosine"):
        raise ConfigError(f"optimizer_args.scheduler must be multistep or cosine, got '{config.optimizer_args.scheduler}'")
    for path, low in _AT_LEAST.items():
        value = _lookup(config, path)
        if value < low:
            raise ConfigError(f"'{path}' must be at least {low}, got {value}")
    for path, low, high in _WITHIN:
        value = _lookup(config, path)
        if not low <= value < high:
            raise ConfigError(f"'{path}' must be in [{low}, {high}), got {value}")
    stages = config.model_args.activation_checkpointing
    if not isinstance(stages, (bool, list)) or (isinstance(stages, list) and not set(stages) <= set(STAGE_NAMES)):
        raise ConfigError(f"'model_args.activation_checkpointing' must be true, false or a list of {', '.join(STAGE_NAMES)}, "
                          f"got {stages!r}")
    if config.dataset not in DATASET_NAMES:
        raise ConfigError(f"dataset must be one of {', '.join(DATASET_NAMES)}, got '{config.dataset}'"
                          f"{_closest(config.dataset, DATASET_NAMES)}")
    if not all(isinstance(epoch, int) and not isinstance(epoch, bool) for epoch in config.optimizer_args.step):
        raise ConfigError(f"'optimizer_args.step' must be a list of epoch numbers, got {config.optimizer_args.step}")
    return config


DATASET_NAMES = ("phoenix2014", "phoenix2014-T", "CSL-Daily", "CSL")
_AT_LEAST = {
    "num_epoch": 1, "batch_size": 1, "test_batch_size": 1, "num_worker": 0, "log_interval": 0, "eval_interval": 1,
    "save_interval": 1, "max_steps_per_epoch": 0, "feeder_args.input_size": 1, "feeder_args.frame_interval": 1,
    "model_args.num_classes": 0, "model_args.hidden_size": 1, "decode_args.beam_width": 1,
    "decode_args.cutoff_top_n": 1, "optimizer_args.start_epoch": 0, "optimizer_args.weight_decay": 0.0,
    "predict_args.frame_size": 1,
}
_WITHIN = [  # [low, high)
    ("feeder_args.image_scale", 1e-9, float("inf")), ("feeder_args.temporal_scaling", 0.0, 1.0),
    ("model_args.lstm_dropout", 0.0, 1.0), ("optimizer_args.base_lr", 1e-30, float("inf")),
    ("optimizer_args.gamma", 1e-30, float("inf")), ("predict_args.fps", 1e-9, float("inf")),
]


def _lookup(config: Config, dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def load_yaml(path: str | Path) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            values = yaml.safe_load(handle) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of config keys")
    return values


def build_config(yaml_values: Mapping[str, Any] | None = None, cli_values: Mapping[str, Any] | None = None,
                 yaml_source: str = "config") -> Config:
    """Defaults, then the YAML, then the command line; validated."""
    config = Config()
    _merge(config, yaml_values or {}, "", yaml_source)
    _merge(config, cli_values or {}, "", "command line")
    return validate(config)


def to_dict(config: Config) -> dict:
    return dataclasses.asdict(config)


def describe_schema(cls: type = Config, prefix: str = "") -> list[tuple[str, Any, str]]:
    """(key, default, help) for every key, nested keys dotted: the README's key table comes from here."""
    rows = []
    instance = cls()
    for f in dataclasses.fields(cls):
        section = _section_type(cls, f.name)
        if section is not None:
            rows += describe_schema(section, f"{prefix}{f.name}.")
        else:
            rows.append((f"{prefix}{f.name}", getattr(instance, f.name), f.metadata.get("help", "")))
    return rows


class _KeyValues(argparse.Action):
    """`--loss-weights Slow=0.25 Fast=0.25`: merge K=V pairs into a mapping."""

    def __call__(self, parser, namespace, values, option_string=None):
        mapping = dict(getattr(namespace, self.dest) or {})
        for item in values:
            if "=" not in item:
                parser.error(f"{option_string} expects KEY=VALUE pairs, got '{item}'")
            key, value = item.split("=", 1)
            mapping[key] = parse_value(value)
        setattr(namespace, self.dest, mapping)


# (flag, config key, type); type None = value parsed like YAML
_FLAGS = [
    ("--work-dir", "work_dir", str), ("--device", "device", str), ("--phase", "phase", str),
    ("--dataset", "dataset", str), ("--load-weights", "load_weights", str),
    ("--load-checkpoints", "load_checkpoints", str), ("--random-seed", "random_seed", int),
    ("--batch-size", "batch_size", int), ("--test-batch-size", "test_batch_size", int),
    ("--num-epoch", "num_epoch", int), ("--num-worker", "num_worker", int),
    ("--log-interval", "log_interval", int), ("--eval-interval", "eval_interval", int),
    ("--save-interval", "save_interval", int), ("--decode-mode", "decode_mode", str),
    ("--evaluate-tool", "evaluate_tool", str), ("--max-steps-per-epoch", "max_steps_per_epoch", int),
]
_SECTION_FLAGS = [
    ("--loss-weights", "loss_weights"), ("--optimizer-args", "optimizer_args"), ("--feeder-args", "feeder_args"),
    ("--model-args", "model_args"), ("--decode-args", "decode_args"), ("--dataset-info", "dataset_info"),
]


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="main.py",
        description="SlowFastSign: train, test, extract features or recognise your own videos.",
        epilog="Any key can also be set as KEY=VALUE with dots for nesting, e.g. model_args.hidden_size=512.",
    )
    parser.add_argument("--config", help="experiment YAML (configs/<dataset>.yaml)")
    for flag, key, kind in _FLAGS:
        parser.add_argument(flag, dest=key, type=kind, default=None, help=_help_of(key))
    for flag, key in _SECTION_FLAGS:
        parser.add_argument(flag, dest=key, nargs="+", action=_KeyValues, default=None, metavar="KEY=VALUE",
                            help=_help_of(key))
    parser.add_argument("--resume", dest="resume", action=argparse.BooleanOptionalAction, default=None,
                        help=_help_of("resume"))
    parser.add_argument("--amp", dest="amp", action=argparse.BooleanOptionalAction, default=None, help=_help_of("amp"))
    parser.add_argument("--sync-bn", dest="sync_bn", action=argparse.BooleanOptionalAction, default=None,
                        help=_help_of("sync_bn"))
    parser.add_argument("--input", dest="inputs", nargs="+", default=None,
                        help="predict phase: videos, frame folders or frame globs")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides of any config key")
    return parser


_OVERRIDE = re.compile(r"^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*=")


def _help_of(key: str) -> str:
    return next((f.metadata.get("help", "") for f in dataclasses.fields(Config) if f.name == key), "")


def config_from_args(argv: Sequence[str] | None = None) -> Config:
    """Parse the command line (and its --config YAML) into a validated Config."""
    parser = build_parser()
    args, leftovers = parser.parse_known_args(argv)
    unknown = [item for item in leftovers if not _OVERRIDE.match(item)]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    yaml_values = load_yaml(args.config) if args.config else {}
    cli: dict[str, Any] = {}
    for _, key, _ in _FLAGS:
        if getattr(args, key) is not None:
            cli[key] = getattr(args, key)
    for _, key in _SECTION_FLAGS:
        if getattr(args, key) is not None:
            cli[key] = getattr(args, key)
    for key in ("resume", "amp", "sync_bn"):
        if getattr(args, key) is not None:
            cli[key] = getattr(args, key)
    overrides = list(args.overrides) + leftovers
    if args.inputs is not None:
        # `--input a.mp4 model_args.x=1`: dotted KEY=VALUE items after the paths are overrides, not inputs
        inputs = [item for item in args.inputs if not _OVERRIDE.match(item)]
        overrides += [item for item in args.inputs if _OVERRIDE.match(item)]
        cli.setdefault("predict_args", {})["inputs"] = inputs
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"command line: '{item}' is not KEY=VALUE")
        dotted, value = item.split("=", 1)
        _set_dotted(cli, dotted.replace("-", "_"), parse_value(value))
    return build_config(yaml_values, cli, yaml_source=args.config or "config")
