from pathlib import Path

import subprocess
import sys

import pytest
import yaml

from utils.config.command_line import config_from_args, parse_value

from utils.config.merge import backbone_from_yaml, build_config, to_dict

from utils.config.schema import ConfigError, SlowFastConfig, describe_schema

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
    assert config.loss_weights.active() == {"SeqCTC": 1.0, "ConvCTC": 1.0, "Dist": 25.0, "Slow": 0.25, "Fast": 0.25}
    only_main = config_from_args(["--config", str(yaml_file)]).loss_weights.active()
    assert only_main == {"SeqCTC": 1.0, "ConvCTC": 1.0, "Dist": 25.0}
    merged = config_from_args(["--loss-weights", "Dist=5"]).loss_weights.active()
    assert merged == {"SeqCTC": 1.0, "ConvCTC": 1.0, "Dist": 5.0, "Slow": 0.25, "Fast": 0.25}


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
        assert config.dataset in ("phoenix2014", "phoenix2014-T", "CSL-Daily", "CSL", "custom"), path


@pytest.mark.parametrize("path", sorted((REPO / "configs" / "backbone").glob("*.yaml")), ids=lambda p: p.name)
def test_backbone_yamls_set_exactly_their_values(path):
    values = yaml.safe_load(path.read_text())
    via_key = build_config({"model_args": {"backbone": str(path)}}).model_args.backbone
    defaults = SlowFastConfig()
    for key, default in to_dict(defaults).items():
        assert getattr(via_key, key) == values.get(key, default), key
    assert via_key == backbone_from_yaml(path)


def test_backbone_is_a_section_of_the_schema():
    config = config_from_args(["model_args.backbone=configs/backbone/slowfast_tiny.yaml", "model_args.backbone.width=32"])
    assert (config.model_args.backbone.depth, config.model_args.backbone.width) == (18, 32)
    official_flag = config_from_args(["--model-args", "backbone=configs/backbone/slowfast_tiny.yaml",
                                      "backbone.width=32"])
    assert official_flag.model_args.backbone == config.model_args.backbone
    with_mapping = build_config({"model_args": {"backbone": {"depth": 50}}}).model_args.backbone
    assert (with_mapping.depth, with_mapping.width) == (50, 64)


def test_recorded_config_builds_the_same_config():
    config = config_from_args(["--config", str(REPO / "configs" / "demo.yaml"), "--loss-weights", "Slow=0.5"])
    recorded = yaml.safe_load(yaml.safe_dump(to_dict(config)))
    assert build_config(recorded) == config


@pytest.mark.parametrize("values, message", [
    ({"num_epoch": "80"}, "'num_epoch' must be an integer, got '80'"),
    ({"batch_size": "2"}, "'batch_size' must be an integer, got '2'"),
    ({"dataset": "phoenix2015"}, "'dataset' must be one of phoenix2014, phoenix2014-T, CSL-Daily, CSL, custom, got "
                                 "'phoenix2015'; did you mean 'phoenix2014'?"),
    ({"eval_interval": 0}, "'eval_interval' must be at least 1, got 0"),
    ({"amp": "yes"}, "'amp' must be true or false, got 'yes'"),
    ({"phase": "tran"}, "'phase' must be one of train, test, features, predict, export, got 'tran'"),
    ({"decode_mode": "greedy"}, "'decode_mode' must be one of beam, max"),
    ({"evaluate_tool": "jiwer"}, "'evaluate_tool' must be one of python, sclite"),
    ({"optimizer_args": {"step": 40}}, "'optimizer_args.step' must be a list of (an integer), got 40"),
    ({"optimizer_args": {"optimizer": "AdamW"}}, "'optimizer_args.optimizer' must be one of Adam, SGD"),
    ({"optimizer_args": {"scheduler": "linear"}}, "'optimizer_args.scheduler' must be one of multistep, cosine"),
    ({"optimizer_args": {"base_lr": 0}}, "'optimizer_args.base_lr' must be greater than 0"),
    ({"decode_args": {"beam_width": 0}}, "'decode_args.beam_width' must be at least 1, got 0"),
    ({"decode_args": {"backend": "auto"}}, "'decode_args.backend' must be one of builtin, ctcdecode, flashlight"),
    ({"feeder_args": {"temporal_scaling": 1.0}}, "'feeder_args.temporal_scaling' must be below 1"),
    ({"loss_weights": {"Slow": "a"}}, "'loss_weights.Slow' must be a number or null, got 'a'"),
    ({"loss_weights": {"Slw": 0.1}}, "unknown config key 'loss_weights.Slw'; did you mean 'loss_weights.Slow'?"),
    ({"model_args": {"backbone": {"depth": 34}}}, "'model_args.backbone.depth' must be one of 18, 50, 101, got 34"),
    ({"model_args": {"backbone": {"width": 12}}}, "width 12 must be divisible by beta_inv 8"),
    ({"model_args": {"backbone": {"spatial_strides": [1, 2]}}}, "spatial_strides needs 4 entries"),
    ({"model_args": {"backbone": "configs/backbone/none.yaml"}}, "config file not found: configs/backbone/none.yaml"),
    ({"model_args": {"activation_checkpointing": ["s6"]}}, "'model_args.activation_checkpointing' must be true or "
                                                           "false or a list of (one of s1, s2, s3, s4, s5)"),
    ({"dataset_info": {"eval_splits": "dev"}}, "'dataset_info.eval_splits' must be a list of (a string)"),
])
def test_bad_values_are_one_line_errors_naming_source_key_and_value(values, message):
    with pytest.raises(ConfigError) as caught:
        build_config(values, yaml_source="exp.yaml")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_command_line_values_are_checked_too():
    with pytest.raises(ConfigError, match=r"^command line: 'num_epoch' must be an integer, got 'abc'$"):
        config_from_args(["num_epoch=abc"])


def test_parsing_a_config_does_not_import_torch():
    code = "import sys, utils.config.command_line as c; c.config_from_args(['--config', 'configs/phoenix2014.yaml']); " \
           "print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_configuration_page_documents_every_key():
    page = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [key for key, _, _ in describe_schema() if f"| `{key}` |" not in page]
    assert missing == []


def test_overrides_after_input_paths_are_not_inputs():
    config = config_from_args(["--input", "clip.mp4", "frames/", "predict_args.fps=30", "batch_size=4"])
    assert config.predict_args.inputs == ["clip.mp4", "frames/"]
    assert config.predict_args.fps == 30 and config.batch_size == 4


def test_overrides_may_follow_options():
    config = config_from_args(["--work-dir", "w", "save_interval=1", "--batch-size", "3", "model_args.hidden_size=64"])
    assert (config.save_interval, config.batch_size, config.model_args.hidden_size) == (1, 3, 64)
