from pathlib import Path

import pytest

from utils.config import ConfigError, build_config, config_from_args, describe_schema, parse_value

REPO = Path(__file__).resolve().parents[1]


def test_precedence_defaults_yaml_then_command_line(tmp_path):
    yaml_file = tmp_path / "exp.yaml"
    yaml_file.write_text("num_epoch: 12\nbatch_size: 4\noptimizer_args:\n  base_lr: 0.01\n")
    config = config_from_args(["--config", str(yaml_file), "--batch-size", "8"])
    assert (config.num_epoch, config.batch_size, config.optimizer_args.base_lr) == (12, 8, 0.01)
    assert config.optimizer_args.gamma == 0.2  # untouched default


def test_loss_weights_from_yaml_replace_and_from_cli_merge(tmp_path):
    yaml_file = tmp_path / "exp.yaml"
    yaml_file.write_text("loss_weights:\n  SeqCTC: 1.0\n  ConvCTC: 1.0\n  Dist: 25.0\n")
    config = config_from_args(["--config", str(yaml_file), "--loss-weights", "Slow=0.25", "Fast=0.25"])
    assert config.loss_weights == {"SeqCTC": 1.0, "ConvCTC": 1.0, "Dist": 25.0, "Slow": 0.25, "Fast": 0.25}
    only_seq = config_from_args(["--config", str(yaml_file)])
    assert "Slow" not in only_seq.loss_weights


def test_dotted_overrides_are_typed_like_yaml():
    config = config_from_args(["model_args.hidden_size=512", "optimizer_args.step=[30,50]",
                               "optimizer_args.base_lr=1e-3", "amp=false", "model_args.conv_type=K5 K5"])
    assert config.model_args.hidden_size == 512
    assert config.optimizer_args.step == [30, 50]
    assert config.optimizer_args.base_lr == pytest.approx(1e-3)
    assert config.amp is False
    assert config.model_args.conv_type == "K5 K5"
    assert parse_value("") == "" and parse_value("abc") == "abc"


def test_official_conv_type_numbers_become_specs():
    assert build_config({"model_args": {"conv_type": 2}}).model_args.conv_type == "K5 P2 K5 P2"
    with pytest.raises(ConfigError, match="official conv_type"):
        build_config({"model_args": {"conv_type": 11}})


def test_unknown_yaml_key_names_the_file_and_the_closest_key(tmp_path):
    yaml_file = tmp_path / "bad.yaml"
    yaml_file.write_text("feeder_args:\n  input_sise: 112\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown config key 'feeder_args.input_sise'; did you mean 'feeder_args.input_size'"):
        config_from_args(["--config", str(yaml_file)])


def test_every_shipped_config_is_valid():
    for path in sorted((REPO / "configs").glob("*.yaml")):
        config = config_from_args(["--config", str(path)])
        assert config.dataset in ("phoenix2014", "phoenix2014-T", "CSL-Daily", "CSL"), path


def test_readme_documents_every_key():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [key for key, _, _ in describe_schema() if f"| `{key}` |" not in readme]
    assert missing == []


def test_overrides_after_input_paths_are_not_inputs():
    config = config_from_args(["--input", "clip.mp4", "frames/", "predict_args.fps=30", "batch_size=4"])
    assert config.predict_args.inputs == ["clip.mp4", "frames/"]
    assert config.predict_args.fps == 30 and config.batch_size == 4


def test_overrides_may_follow_options():
    config = config_from_args(["--work-dir", "w", "save_interval=1", "--batch-size", "3", "model_args.hidden_size=64"])
    assert (config.save_interval, config.batch_size, config.model_args.hidden_size) == (1, 3, 64)
