"""main.py's command line: official flags (`--work-dir`, `--loss-weights Slow=0.25 Fast=0.25`, ...) and
dotted overrides (`model_args.hidden_size=512`) over the --config YAML, into a validated Config."""
from __future__ import annotations

import argparse
import dataclasses
import re
from typing import Any, Sequence

import yaml

from utils.cli import ArgumentParser
from utils.config.merge import FROM_FILE, build_config, load_yaml
from utils.config.schema import Config, ConfigError


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
    """values[a][b][c] = value for "a.b.c"; a section given as a file and keys inside it (`model_args.backbone=
    x.yaml model_args.backbone.width=32`) combine: the file first, then the keys."""
    node = values
    *parents, leaf = dotted.split(".")
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            child = node[part] = {FROM_FILE: child}
        node = child
    if isinstance(node.get(leaf), dict) and not isinstance(value, dict):
        node[leaf][FROM_FILE] = value
    else:
        node[leaf] = value


class _KeyValues(argparse.Action):
    """`--loss-weights Slow=0.25 Fast=0.25`: merge K=V pairs into a mapping."""

    def __call__(self, parser, namespace, values, option_string=None):
        mapping = dict(getattr(namespace, self.dest) or {})
        for item in values:
            if "=" not in item:
                parser.error(f"{option_string} expects KEY=VALUE pairs, got '{item}'")
            key, value = item.split("=", 1)
            _set_dotted(mapping, key, parse_value(value))
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
    config = build_config(yaml_values, cli, yaml_source=args.config or "config")
    config.command_line_keys = frozenset(_dotted_keys(cli))
    return config


def _dotted_keys(values: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted names of the keys the command line set (a file's values are not the user's choice for this run)."""
    keys = []
    for key, value in values.items():
        keys += _dotted_keys(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}"]
    return keys
