"""Defaults, then a YAML file, then the command line, merged into one checked Config.

Every value is checked against its annotation in utils/config/schema.py when it is merged (Literal
enumerations, element types of lists, ranges from the field's metadata), so a bad value stops the run at
start-up with one line naming the file or flag, the key, what was expected and what came.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence, Union, get_args, get_origin

import yaml

from utils.config.schema import (MAIN_BRANCH_TERMS, OFFICIAL_CONV_TYPES, Config, ConfigError, SlowFastConfig,
                                 section_type)

REPO_ROOT = Path(__file__).resolve().parents[2]


def resolve_path(path: str | Path) -> Path:
    """A path as given if it exists, else relative to the repository (configs work from any directory)."""
    candidate = Path(path).expanduser()
    if candidate.exists() or candidate.is_absolute():
        return candidate
    in_repo = REPO_ROOT / candidate
    return in_repo if in_repo.exists() else candidate


def _closest(name: str, valid: Sequence[str], prefix: str = "") -> str:
    match = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    return f"; did you mean '{prefix}{match[0]}'?" if match else f"; valid keys: {', '.join(prefix + v for v in valid)}"


FROM_FILE = "<file>"  # a section's YAML file among command-line keys for the same section


def _merge(target: Any, values: Mapping[str, Any], prefix: str, source: str, replace: bool) -> None:
    """Set `values` on the section `target`, checking every key and value; `replace`: this layer is a file,
    whose mappings replace the sections marked `replaced_by_files`."""
    fields = {f.name: f for f in dataclasses.fields(target)}
    hints = typing.get_type_hints(type(target))
    for key, value in values.items():
        key = str(key).replace("-", "_")
        path = f"{prefix}{key}"
        if key not in fields:
            raise ConfigError(f"{source}: unknown config key '{path}'{_closest(key, list(fields), prefix)}")
        kind = section_type(hints[key])
        if kind is None:
            setattr(target, key, _checked(value, hints[key], fields[key].metadata, path, source))
            continue
        if kind is SlowFastConfig and isinstance(value, (str, Path)):
            value = {FROM_FILE: value}
        if kind is SlowFastConfig and isinstance(value, Mapping) and FROM_FILE in value:
            setattr(target, key, backbone_from_yaml(resolve_path(value[FROM_FILE])))
            value = {name: item for name, item in value.items() if name != FROM_FILE}
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: '{path}' must be a mapping of {kind.__name__} keys, got {value!r}")
        if replace and fields[key].metadata.get("replaced_by_files"):
            setattr(target, key, kind(**{f.name: None for f in dataclasses.fields(kind)}))
        _merge(getattr(target, key), value, f"{path}.", source, replace)


_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string", type(None): "null"}


def _describe(kind: Any) -> str:
    origin = get_origin(kind)
    if origin is Literal:
        return "one of " + ", ".join(str(choice) for choice in get_args(kind))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in get_args(kind))
    if origin is list:
        return f"a list of ({_describe(get_args(kind)[0])})"
    return _NAMES.get(kind, getattr(kind, "__name__", str(kind)))


class _Mismatch(Exception):
    pass


def _convert(value: Any, kind: Any) -> Any:
    """`value` as `kind` (YAML numbers become float or str where the schema says so), or _Mismatch."""
    origin = get_origin(kind)
    if kind is Any:
        return value
    if origin is Literal:
        if any(value == choice and type(value) is type(choice) for choice in get_args(kind)):
            return value
        raise _Mismatch
    if origin in (Union, types.UnionType):
        for arg in get_args(kind):
            try:
                return _convert(value, arg)
            except _Mismatch:
                pass
        raise _Mismatch
    if origin is list:
        if not isinstance(value, list):
            raise _Mismatch
        return [_convert(item, get_args(kind)[0]) for item in value]
    if isinstance(value, bool):
        if kind is bool:
            return value
        raise _Mismatch
    if kind is type(None) and value is None:
        return None
    if kind is int and isinstance(value, int):
        return value
    if kind is float and isinstance(value, (int, float)):
        return float(value)
    if kind is str and isinstance(value, (str, int, float)):
        return str(value)
    raise _Mismatch


def _checked(value: Any, kind: Any, metadata: Mapping[str, Any], path: str, source: str) -> Any:
    """`value` converted to the schema's type for `path` and inside its range, or a one-line ConfigError."""
    try:
        converted = _convert(value, kind)
    except _Mismatch:
        hint = ""
        if get_origin(kind) is Literal and isinstance(value, str):
            match = difflib.get_close_matches(value, [str(c) for c in get_args(kind)], n=1, cutoff=0.5)
            hint = f"; did you mean '{match[0]}'?" if match else ""
        raise ConfigError(f"{source}: '{path}' must be {_describe(kind)}, got {value!r}{hint}") from None
    if isinstance(converted, (int, float)) and not isinstance(converted, bool):
        low, above, below = metadata.get("at_least"), metadata.get("above"), metadata.get("below")
        if low is not None and converted < low:
            raise ConfigError(f"{source}: '{path}' must be at least {low}, got {value!r}")
        if above is not None and converted <= above:
            raise ConfigError(f"{source}: '{path}' must be greater than {above}, got {value!r}")
        if below is not None and converted >= below:
            raise ConfigError(f"{source}: '{path}' must be below {below}, got {value!r}")
    return converted


def validate(config: Config) -> Config:
    """Rules that tie several keys together (each value alone was checked when merged)."""
    if (config.decode_args.lm_path or config.decode_args.word_score) and config.decode_args.backend != "flashlight":
        raise ConfigError("decode_args.lm_path/word_score need decode_args.backend=flashlight")
    if isinstance(config.model_args.conv_type, int):
        if config.model_args.conv_type not in OFFICIAL_CONV_TYPES:
            raise ConfigError(f"model_args.conv_type {config.model_args.conv_type} is not an official conv_type number")
        config.model_args.conv_type = OFFICIAL_CONV_TYPES[config.model_args.conv_type]
    from utils.kernel_spec import parse_kernel_spec

    try:
        parse_kernel_spec(config.model_args.conv_type)
    except ValueError as error:
        raise ConfigError(f"model_args.conv_type: {error}") from None
    config.model_args.backbone.validate("model_args.backbone")
    if not any(config.loss_weights.active().get(term) for term in MAIN_BRANCH_TERMS):
        raise ConfigError(f"loss_weights: set at least one of {', '.join(MAIN_BRANCH_TERMS)} (the main branch, which "
                          f"is what gets evaluated); got {config.loss_weights.active()}")
    return config


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
    """Defaults, then the YAML (its loss_weights replace the defaults), then the command line (merged); validated."""
    config = Config()
    _merge(config, yaml_values or {}, "", yaml_source, replace=True)
    _merge(config, cli_values or {}, "", "command line", replace=False)
    return validate(config)


def adopt_recorded(config: Config, recorded: Mapping[str, Any], source: str) -> Config:
    """A copy of `config` with every recorded key (nested, as a Config's dict) that the command line did not set
    (config.command_line_keys); checked like any other layer, errors naming `source`."""
    def flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
        items: dict[str, Any] = {}
        for key, value in values.items():
            items.update(flat(value, f"{prefix}{key}.") if isinstance(value, Mapping) else {f"{prefix}{key}": value})
        return items

    layer: dict[str, Any] = {}
    for dotted, value in flat(recorded).items():
        if dotted in config.command_line_keys:
            continue
        holder = layer
        *sections, key = dotted.split(".")
        for section in sections:
            holder = holder.setdefault(section, {})
        holder[key] = value
    adopted = copy.deepcopy(config)
    _merge(adopted, layer, "", source, replace=False)
    adopted.command_line_keys = config.command_line_keys
    return validate(adopted)


def to_dict(config: Any) -> dict:
    return dataclasses.asdict(config)


def backbone_from_dict(values: Mapping[str, Any], source: str = "backbone config") -> SlowFastConfig:
    """Backbone defaults, then `values`, checked like every other config section."""
    config = SlowFastConfig()
    _merge(config, values, "", source, replace=True)
    config.validate(source)
    return config


def backbone_from_yaml(path: str | Path) -> SlowFastConfig:
    """A backbone file of configs/backbone/, checked."""
    return backbone_from_dict(load_yaml(path), source=str(path))
