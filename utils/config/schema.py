"""The configuration schema: every key, its type, its default, its range and what it does, in one place.

Experiment YAMLs in configs/ only override these defaults; utils/config/merge.py checks and merges them and
utils/config/command_line.py reads main.py's command line. Hand-written rather than OmegaConf or pydantic:
both would add a dependency while three rules are ours anyway (loss weights from a file replace the defaults
and from the command line merge into them; the backbone may be a YAML path; official `conv_type` numbers),
and the one-line error format must be the project's. Imports no torch: parsing a config never needs the model.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args

from utils.errors import UserError

DatasetName = Literal["phoenix2014", "phoenix2014-T", "CSL-Daily", "CSL", "custom"]
DATASETS: tuple[str, ...] = get_args(DatasetName)
Phase = Literal["train", "test", "features", "predict", "export"]
TaskName = Literal["recognition", "translation", "joint"]
PHASES: tuple[str, ...] = get_args(Phase)
StageName = Literal["s1", "s2", "s3", "s4", "s5"]
STAGE_NAMES: tuple[str, ...] = get_args(StageName)
ResidualTransform = Literal["bottleneck", "basic"]
DecodeBackend = Literal["builtin", "ctcdecode", "flashlight"]
# Kernel specs of the official `conv_type` numbers, so old configs keep working.
OFFICIAL_CONV_TYPES = {
    0: "K3", 1: "K5 P2", 2: "K5 P2 K5 P2", 3: "K5 K5 P2", 4: "K5 K5", 5: "K5 P2 K5",
    6: "P2 K5 K5", 7: "P2 K5 P2 K5", 8: "P2 P2 K5 K5", 9: "K5 K5 P2", 10: "K5 K5",
}



class ConfigError(UserError, ValueError):
    """A configuration problem, reported in one line; like a command-line usage error, exit code 2."""

    exit_code = 2


def opt(default: Any, help: str, *, at_least: float | None = None, above: float | None = None,
        below: float | None = None) -> Any:
    """A schema entry: its default, a one-line explanation (--help, README) and its allowed range."""
    metadata = {"help": help, "at_least": at_least, "above": above, "below": below}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def section(kind: type, help: str, replaced_by_files: bool = False) -> Any:
    """A nested group of keys; `replaced_by_files`: a YAML mapping replaces the whole group (keys it does
    not name are unset) while the command line merges into it."""
    return field(default_factory=kind, metadata={"help": help, "replaced_by_files": replaced_by_files})


@dataclass
class FeederArgs:
    input_size: int = opt(224, "side of the square crop fed to the network (random in train, centre in test)", at_least=1)
    image_scale: float = opt(1.0, "resize after cropping: a ratio if <= 1, an absolute side in pixels if > 1", above=0)
    frame_interval: int = opt(1, "keep every n-th frame, from an offset drawn in [0, n) (in every phase, as officially)",
                              at_least=1)
    temporal_scaling: float = opt(0.2, "training temporal rescale range +-x of the clip length", at_least=0, below=1)
    skip_bad: bool = opt(False, "skip (and count) samples with missing/corrupt frames instead of stopping")
    skip_last_video: bool = opt(True, "CSL-Daily and CSL: as the official feeder, never load the last video of a "
                                      "split (it then scores as [EMPTY], as in published numbers); false loads it")


@dataclass
class DatasetInfo:
    dataset_root: str = opt("", "root of the preprocessed frames (record 'folder' globs are relative to it)")
    info_dir: str = opt("", "folder with gloss_dict.json and <split>_info.jsonl (default: preprocess/<dataset>)")
    gloss_dict: str = opt("", "gloss dictionary (default: <info_dir>/gloss_dict.json)")
    evaluation_dir: str = opt("", "folder of the ground-truth STM files (default: <info_dir>)")
    evaluation_prefix: str = opt("", "STM file prefix (default: <dataset>-groundtruth)")
    eval_splits: list[str] = opt(["dev", "test"], "splits decoded and scored at evaluation time")


@dataclass
class SlowFastConfig:
    """Every number that shapes the SlowFast backbone; defaults are SLOWFAST_64x2_R101_50_50."""

    depth: Literal[18, 50, 101] = opt(101, "ResNet depth: residual blocks per stage res2..res5 (18, 50 or 101)")
    width: int = opt(64, "slow-pathway stem width (WIDTH_PER_GROUP x NUM_GROUPS)", at_least=1)
    alpha: int = opt(4, "frame-rate ratio fast/slow: the slow pathway sees every alpha-th frame", at_least=1)
    beta_inv: int = opt(8, "channel ratio slow/fast", at_least=1)
    num_groups: int = opt(1, "groups of the 3x3 convolution", at_least=1)
    trans_func: ResidualTransform = opt("bottleneck", "residual transform: bottleneck or basic")
    temporal_kernel_basis: list[list[int]] = opt([[1, 5], [1, 3], [1, 3], [3, 3], [3, 3]],
                                                 "temporal kernel (slow, fast) of the stem, res2, res3, res4, res5")
    num_block_temp_kernel: list[list[int]] = opt([[3, 3], [4, 4], [6, 6], [3, 3]],
                                                 "per stage (slow, fast): leading blocks with the stage's temporal kernel (the rest use 1)")
    spatial_strides: list[int] = opt([1, 2, 2, 2], "spatial stride of res2..res5")
    spatial_dilations: list[int] = opt([1, 1, 1, 1], "spatial dilation of res2..res5")
    fusion_kernel: int = opt(5, "temporal kernel of the fast->slow fusion convolution", at_least=1)
    dropout: float = opt(0.5, "dropout on the per-frame features", at_least=0, below=1)
    zero_init_final_bn: bool = opt(True, "start every residual block as the identity")
    bn_eps: float = opt(1e-5, "BatchNorm epsilon", above=0)
    bn_momentum: float = opt(0.1, "BatchNorm running-statistics momentum", at_least=0)

    def validate(self, source: str = "backbone config") -> None:
        """Shapes that cannot be built fail here, not deep inside the model."""
        if self.width % self.beta_inv:
            raise ConfigError(f"{source}: width {self.width} must be divisible by beta_inv {self.beta_inv}")
        for name, entries, pairs in (("temporal_kernel_basis", 5, True), ("num_block_temp_kernel", 4, True),
                                     ("spatial_strides", 4, False), ("spatial_dilations", 4, False)):
            value = getattr(self, name)
            if len(value) != entries or (pairs and any(len(pair) != 2 for pair in value)):
                shape = f"{entries} [slow, fast] pairs" if pairs else f"{entries} entries"
                raise ConfigError(f"{source}: {name} needs {shape}, got {value}")


@dataclass
class ModelArgs:
    num_classes: int = opt(0, "output classes incl. blank; 0 = size of the gloss dictionary + 1", at_least=0)
    backbone: SlowFastConfig = section(SlowFastConfig, "SlowFast backbone: its keys, or a YAML file of them (configs/backbone/)")
    conv_type: Union[int, str] = opt("K5 P2 K5 P2", "temporal head spec (K<k> conv, P<p> pool) or an official conv_type number")
    hidden_size: int = opt(1024, "width of the temporal convs and BiLSTM outputs", at_least=1)
    share_classifier: bool = opt(True, "conv logits use the BiLSTM classifiers (as released)")
    lstm_dropout: float = opt(0.3, "dropout between BiLSTM layers", at_least=0, below=1)
    pretrained_backbone: str = opt("", "Kinetics-400 Caffe2 pickle (SLOWFAST_64x2_R101_50_50.pkl) to initialise from")
    activation_checkpointing: Union[bool, list[StageName]] = opt(
        [], "backbone stages (s1..s5), or true for all, to recompute in backward: less memory, ~1/3 more time")


@dataclass
class LossWeights:
    """Weights of the loss terms; an unset term is not computed. From a YAML file the mapping replaces
    these defaults (terms it leaves out are off, as officially); from the command line it merges."""

    SeqCTC: float | None = opt(1.0, "CTC on the main branch's BiLSTM logits")
    ConvCTC: float | None = opt(1.0, "CTC on the main branch's temporal-conv logits")
    Dist: float | None = opt(25.0, "self-distillation of the conv logits from the BiLSTM logits")
    Slow: float | None = opt(0.25, "PFE: the three terms again on the slow branch, times this weight")
    Fast: float | None = opt(0.25, "PFE: the three terms again on the fast branch, times this weight")

    def active(self) -> dict[str, float]:
        """The terms to compute: name -> weight."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}


LOSS_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(LossWeights))
MAIN_BRANCH_TERMS = ("SeqCTC", "ConvCTC", "Dist")


@dataclass
class DecodeArgs:
    beam_width: int = opt(10, "CTC beam width", at_least=1)
    cutoff_top_n: int = opt(40, "classes per step a prefix may be extended with (ctcdecode's cutoff_top_n)", at_least=1)
    backend: DecodeBackend = opt(
        "builtin", "beam search: builtin (equal to ctcdecode), ctcdecode (the package), flashlight (KenLM fusion; not ctcdecode-equivalent)")
    lm_path: str = opt("", "KenLM language model (ARPA or binary) over glosses; flashlight backend only")
    lm_weight: float = opt(0.0, "language model weight (flashlight backend)")
    word_score: float = opt(0.0, "score added per emitted gloss (flashlight backend)")


@dataclass
class OptimizerArgs:
    optimizer: Literal["Adam", "SGD"] = opt("Adam", "Adam or SGD")
    base_lr: float = opt(1e-4, "initial learning rate", above=0)
    weight_decay: float = opt(1e-4, "L2 weight decay", at_least=0)
    scheduler: Literal["multistep", "cosine", "noam"] = opt(
        "multistep", "learning-rate schedule: multistep or cosine (per epoch), or noam (per optimiser step: a linear "
                     "warm-up to base_lr over warmup_steps, then decay with the inverse square root of the step)")
    warmup_steps: int = opt(4000, "noam: optimiser steps of the linear warm-up", at_least=1)
    betas: list[float] = opt([0.9, 0.999], "Adam's beta1 and beta2")
    step: list[int] = opt([40, 60], "multistep milestones (epochs)")
    gamma: float = opt(0.2, "multistep decay factor", above=0)
    momentum: float = opt(0.9, "SGD momentum", at_least=0)
    nesterov: bool = opt(False, "SGD Nesterov momentum")
    fused: bool = opt(True, "Adam's fused kernel on CUDA (the same update in fewer launches)")
    start_epoch: int = opt(0, "first epoch number when not resuming", at_least=0)


@dataclass
class SyntheticCorpus:
    enabled: bool = opt(False, "generate and preprocess the synthetic PHOENIX-layout corpus before running")
    root: str = opt("demo_data/synthetic", "where the raw synthetic corpus is written")
    output_size: int = opt(80, "side of the preprocessed frames (the real corpora use 256)", at_least=1)
    num_glosses: int = opt(8, "vocabulary size", at_least=1)
    train: int = opt(160, "training sentences", at_least=1)
    dev: int = opt(40, "dev sentences", at_least=0)
    test: int = opt(40, "test sentences", at_least=0)
    seed: int = opt(0, "generator seed")


@dataclass
class PredictArgs:
    inputs: list[str] = opt([], "videos (mp4, ...), frame folders or frame globs (one video per folder) to recognise")
    output_dir: str = opt("", "where predictions go (default: <work_dir>/predictions)")
    frame_size: int = opt(0, "side frames are resized to before the read geometry and centre crop; 0: the size of the "
                             "checkpoint's training frames (256 for checkpoints that do not record it)", at_least=0)
    fps: float = opt(25.0, "frame rate used to turn frame spans into seconds in the CTM", above=0)
    alignment_pictures: bool = opt(True, "a picture of frames, recognised glosses and posteriors per input (<name>.alignment.png)")
    window: int = opt(256, "an input longer than this many frames (after frame_interval) is recognised in overlapping "
                           "windows of this many, in bounded memory", at_least=8)
    overlap: int = opt(64, "frames consecutive windows share (each keeps the outputs nearer its middle)", at_least=0)
    live: bool = opt(False, "read every input at its frame rate, as a camera stream, printing glosses as they settle "
                            "(camera indices and stream URLs are always read so)")
    live_window: int = opt(96, "window of a live source: shorter, so that glosses settle sooner", at_least=8)
    live_overlap: int = opt(32, "overlap of a live source's windows", at_least=0)
    max_lag: float = opt(5.0, "a live source's frames are dropped while recognition lags more than this many seconds "
                              "behind their capture (recognising slower than real time; a window's own work, 2.6 s of "
                              "video at the live window, always lags); 0: never drop", at_least=0)
    pause: float = opt(1.0, "with a translator, a long recording or a live stream is cut into sentences where no "
                            "gloss is signed for this many seconds; each sentence is translated (and a live one "
                            "printed) once a pause ends it", above=0)


@dataclass
class ExportArgs:
    output: str = opt("", "the folder --phase export writes, publishable as it is (default: <work_dir>/export): model.onnx, "
                          "model.json, model.safetensors, README.md (a path ending in .onnx names the graph itself)")
    tolerance: float = opt(1e-4, "largest logit difference ONNX Runtime may show against PyTorch, relative to the largest "
                                 "logit, or nothing is written (every output step's best class must be the same too)",
                           above=0)
    verify_frames: list[int] = opt([16, 64], "clip lengths (frames) the export is verified on besides "
                                             "predict_args.window and live_window, on training frames when there")
    opset: int = opt(17, "ONNX opset version", at_least=14)


@dataclass
class TranslationArgs:
    """The translation transformer, its data and its decoding (docs/METHOD.md, "Translation")."""

    width: int = opt(512, "model width (embeddings, attention, layer outputs)", at_least=8)
    heads: int = opt(8, "attention heads (must divide the width)", at_least=1)
    encoder_layers: int = opt(2, "encoder layers", at_least=1)
    decoder_layers: int = opt(2, "decoder layers", at_least=1)
    feed_forward: int = opt(2048, "hidden width of the position-wise feed-forward layers", at_least=1)
    dropout: float = opt(0.1, "dropout in every layer", at_least=0, below=1)
    embedding_dropout: float = opt(0.1, "dropout on the (scaled, position-encoded) embeddings", at_least=0, below=1)
    tie_output: bool = opt(True, "the output layer shares the target embedding's weights")
    label_smoothing: float = opt(0.1, "label smoothing of the cross-entropy", at_least=0, below=1)
    level: Literal["word", "char"] = opt("word", "target tokens: words, or characters (CSL-Daily's Chinese)")
    lowercase_glosses: bool = opt(False, "gloss-to-text: read the glosses in lower case (as Yin & Read's -lower)")
    share_vocabulary: bool = opt(False, "gloss-to-text: one vocabulary and embedding for glosses and text (with "
                                        "lowercase_glosses, a gloss that is also a word is one token)")
    min_frequency: int = opt(1, "words seen fewer times in training are <unk>", at_least=1)
    beam_size: int = opt(4, "beam width of translation when the test has not chosen one on dev", at_least=1)
    alpha: float = opt(1.0, "length penalty ((5 + length) / 6) ** alpha, when the test has not chosen one on dev")
    eval_beam_size: int = opt(1, "beam width of the dev evaluations during training (1: greedy, as signjoey)",
                              at_least=1)
    beam_sizes: list[int] = opt([1, 2, 3, 4, 5], "the test phase chooses the beam width on dev among these")
    alphas: list[float] = opt([0.0, 0.5, 1.0, 1.5, 2.0], "the test phase chooses the length penalty on dev among these")
    max_output_length: int = opt(100, "longest translation (words), besides twice the source length plus 10",
                                 at_least=1)
    translator: str = opt("", "recognition test/predict: a translation checkpoint whose model translates the "
                              "recognised glosses into text")
    loss_weight: float = opt(1.0, "joint: weight of the translation loss beside the recognition losses", at_least=0)
    noise_wer: float = opt(0.0, "gloss-to-text training: corrupt the source glosses to this word error rate (%), "
                                "a new draw every epoch (training on recognition-like errors)", at_least=0, below=100)
    noise_mix: list[float] = opt([0.5, 0.35, 0.15], "shares of substitutions, deletions and insertions in the "
                                                    "corruption")


@dataclass
class Config:
    phase: Phase = opt("train", "train, test, features, predict or export (ONNX)")
    task: TaskName = opt("recognition", "recognition (glosses from video), translation (text from glosses) or joint "
                                        "(glosses and text from video: a translation decoder on the recogniser's "
                                        "BiLSTM features)")
    dataset: DatasetName = opt("phoenix2014", "phoenix2014, phoenix2014-T, CSL-Daily, CSL or custom (a corpus preprocessed from a manifest: no corpus-specific normalisation); selects STMs and normalisation")
    work_dir: str = opt("./work_dir/temp/", "checkpoints, logs, CTM/STM files and reports go here")
    device: str = opt("0", "GPU indexes such as '0' or '0,1', or 'cpu'; CPU is used when CUDA is absent")
    random_seed: int = opt(0, "seed of every random generator (bit-reproducible runs on CPU)")
    num_epoch: int = opt(80, "epochs to train", at_least=1)
    batch_size: int = opt(2, "training clips per forward pass (per process under torchrun)", at_least=1)
    accumulate_grad_batches: int = opt(1, "forward passes of batch_size clips whose gradients make one optimiser "
                                          "step, as one batch of batch_size x this x processes (less memory)",
                                       at_least=1)
    test_batch_size: int = opt(2, "clips per evaluation step", at_least=1)
    num_worker: int = opt(4, "data loader processes", at_least=0)
    log_interval: int = opt(50, "iterations between log lines", at_least=0)
    eval_interval: int = opt(1, "epochs between evaluations on the eval splits", at_least=1)
    save_interval: int = opt(5, "epochs between kept checkpoints (the latest is always kept for resuming)", at_least=1)
    ema_decay: float = opt(0.0, "keep an exponential moving average of the weights with this decay (e.g. 0.999) and "
                                "evaluate, keep and test it instead of the raw weights; 0: off (the official recipe)",
                           at_least=0, below=1)
    checkpoint_minutes: float = opt(15.0, "also write the resumable last_checkpoint.pt within an epoch once this many "
                                          "minutes have passed since the last one (0: only at epoch ends)", at_least=0)
    checkpoint_steps: int = opt(0, "also write it every this many optimiser steps within an epoch (0: off)",
                                at_least=0)
    max_steps_per_epoch: int = opt(0, "stop each epoch after this many steps (0 = whole epoch); for smoke tests", at_least=0)
    evaluate_tool: Literal["python", "sclite"] = opt("python", "scorer whose WER selects the best checkpoint: python (the official Python scorer, the official default) or sclite (NIST rules; the binary also runs when found); both WERs are always reported")
    sclite_path: str = opt("", "explicit sclite binary (default: PATH, then /usr/lib/sctk/bin/sclite)")
    load_weights: str = opt("", "checkpoint whose model weights initialise the model (ours or official)")
    load_checkpoints: str = opt("", "checkpoint to resume training from (model, optimizer, scheduler, RNG)")
    test_after_train: bool = opt(False, "after training, evaluate best_model.pt on the eval splits and print the report")
    analysis: bool = opt(True, "test phase: error analysis per split in <work_dir>/analysis/<split>/ (JSON, Markdown, charts)")
    alignment_pictures: bool = opt(False, "test phase: also a picture of frames, glosses and posteriors per video in <work_dir>/alignments/<split>/")
    resume: bool = opt(True, "resume automatically from <work_dir>/last_checkpoint.pt when it exists")
    stuck_warning_steps: int = opt(500, "warn once, at the first evaluation (the second or later) after this many "
                                        "training steps, when every evaluation so far decoded (nearly) nothing; 0: "
                                        "never", at_least=0)
    ignore_weights: list[str] = opt([], "key prefixes dropped from --load-weights (e.g. classifier when classes differ)")
    decode_mode: Literal["beam", "max"] = opt("beam", "beam or max (greedy)")
    amp: bool = opt(True, "mixed precision for training on CUDA: autocast in amp_dtype (float16 with a GradScaler, "
                          "as officially)")
    eval_amp: bool = opt(False, "also run evaluation, features and predict under autocast (official: float32)")
    amp_dtype: Literal["float16", "bfloat16"] = opt("float16", "autocast dtype on CUDA: float16 (with GradScaler, as officially) or bfloat16 (no scaler needed)")
    channels_last: bool = opt(False, "channels_last_3d memory format for the network and its input (a CUDA speed lever)")
    deterministic: bool = opt(False, "deterministic kernels: cuDNN without autotuning, cuBLAS's fixed workspace, torch.use_deterministic_algorithms (warn-only); repeatable GPU runs up to the CTC and pooling backward passes, slower")
    sync_bn: bool = opt(False, "SyncBatchNorm across processes under torchrun (CUDA only)")
    loss_weights: LossWeights = section(LossWeights, "SeqCTC, ConvCTC, Dist (main branch) and Slow, Fast (PFE)", replaced_by_files=True)
    feeder_args: FeederArgs = section(FeederArgs, "data loading and augmentation")
    dataset_info: DatasetInfo = section(DatasetInfo, "where the data lives")
    model_args: ModelArgs = section(ModelArgs, "network shape")
    decode_args: DecodeArgs = section(DecodeArgs, "CTC decoding")
    optimizer_args: OptimizerArgs = section(OptimizerArgs, "optimiser and schedule")
    synthetic: SyntheticCorpus = section(SyntheticCorpus, "bundled demo data")
    predict_args: PredictArgs = section(PredictArgs, "the predict phase")
    export_args: ExportArgs = section(ExportArgs, "the export phase (ONNX)")
    translation_args: TranslationArgs = section(TranslationArgs, "translation: the transformer, its data and decoding")
    # not a field (no annotation): the dotted keys main.py's command line set (utils/config/command_line.py), what a
    # user chose for this run over what a file or an exported model says
    command_line_keys = frozenset()


def describe_schema(cls: type = Config, prefix: str = "") -> list[tuple[str, Any, str]]:
    """(key, default, help) for every key, nested keys dotted: the README's key table comes from here."""
    rows = []
    instance = cls()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind = section_type(hints[f.name])
        if kind is not None:
            rows += describe_schema(kind, f"{prefix}{f.name}.")
        else:
            rows.append((f"{prefix}{f.name}", getattr(instance, f.name), f.metadata.get("help", "")))
    return rows


def section_type(hint: Any) -> type | None:
    """The dataclass of a nested section, or None for a plain value."""
    return hint if dataclasses.is_dataclass(hint) else None
