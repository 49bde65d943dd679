"""What produced a run: the code (git commit, whether the tree had changes, the diff), the command line, the
software and hardware (CPU instruction set and the variables that force kernels included), the processes,
the host and the times. Every phase writes it beside its outputs; checkpoints and test_results.json carry
it, so a number or a released model says where it came from.

Imports no torch (prediction through ONNX Runtime records itself too): torch's own facts are read only when
the process has already loaded it.
"""
from __future__ import annotations

import datetime
import getpass
import hashlib
import json
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from utils.io import write_json_atomic, write_text_atomic
from utils.redact import masked
from utils.work_dir import config_record, provenance_record

FORMAT_VERSION = 1
REPO = Path(__file__).resolve().parents[1]
# Variables that choose the CPU kernels (docs: "Reproducing the paper's table"): a bit-exact figure holds on
# the same kernels only
KERNEL_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "CUBLAS_WORKSPACE_CONFIG", "LD_PRELOAD")
# What launched the process: torchrun's and SLURM's variables (a job, an array task, a requeued restart)
LAUNCHER_VARIABLES = ("TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT", "WORLD_SIZE", "LOCAL_WORLD_SIZE",
                      "MASTER_ADDR", "SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID",
                      "SLURM_RESTART_COUNT", "SLURM_JOB_NODELIST")
PACKAGES = ("torch", "numpy", "opencv-python", "opencv-python-headless", "onnx", "onnxruntime",
            "onnxruntime-openvino", "numba", "flashlight-text")
_INSTRUCTION_SETS = (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"), ("sse4_2", "SSE4.2"),
                     ("asimd", "NEON"))
_UNTRACKED_LISTED = 50


def now() -> str:
    """The time in UTC, to the second, ISO 8601."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def _git(root: Path, *arguments: str) -> str:
    """git's output as text; bytes that are not UTF-8 (a Latin-1 file in a diff, another locale) become U+FFFD."""
    done = subprocess.run(["git", "-C", str(root), *arguments], capture_output=True, timeout=60)
    if done.returncode:
        raise subprocess.CalledProcessError(done.returncode, "git", stderr=done.stderr.decode("utf-8", "replace"))
    return done.stdout.decode("utf-8", "replace")


def code_state(root: Path = REPO) -> dict[str, Any]:
    """The commit of the checkout at `root` (this code's), whether tracked files differ from it (`diff`: `git
    diff HEAD`), and the untracked files; without git (an unpacked archive, git missing) `commit` is None and
    `note` says why."""
    try:
        if _git(root, "rev-parse", "--show-toplevel").strip() != str(root.resolve()):
            raise subprocess.CalledProcessError(1, "git", stderr="it lies inside another repository")
        commit = _git(root, "rev-parse", "HEAD").strip()
        diff = _git(root, "diff", "HEAD", "--no-color", "--no-ext-diff")
        untracked = _git(root, "ls-files", "--others", "--exclude-standard").splitlines()
    except FileNotFoundError:
        return {"commit": None, "dirty": None, "note": "git is not installed: the code's version is unknown"}
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        reason = (getattr(error, "stderr", "") or "").strip().splitlines()
        return {"commit": None, "dirty": None,
                "note": f"{root} is not a git checkout (an unpacked archive?): the code's version is unknown"
                        + (f" ({reason[0]})" if reason else "")}
    state: dict[str, Any] = {"commit": commit, "dirty": bool(diff), "diff": diff,
                             "diff_sha256": hashlib.sha256(diff.encode()).hexdigest() if diff else None,
                             "untracked": untracked[:_UNTRACKED_LISTED]}
    if len(untracked) > _UNTRACKED_LISTED:
        state["untracked_not_listed"] = len(untracked) - _UNTRACKED_LISTED
    return state


def _package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def cpu_description() -> dict[str, Any]:
    """The CPU's model, the vector instruction sets it has, the kernels torch uses on it (when loaded)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                model = value.strip()
            elif key.strip() in ("flags", "Features"):
                flags.update(value.split())
    except OSError:
        pass
    cpu: dict[str, Any] = {"model": model, "cores": os.cpu_count(),
                           "instruction_sets": [name for flag, name in _INSTRUCTION_SETS if flag in flags]}
    torch = sys.modules.get("torch")
    if torch is not None:
        cpu["torch_kernels"] = torch.backends.cpu.get_cpu_capability()
        cpu["torch_threads"] = torch.get_num_threads()
    return cpu


def _torch_facts(device: str | None) -> dict[str, Any]:
    torch = sys.modules.get("torch")
    if torch is None:
        return {"torch_loaded": False, "device": device}
    facts: dict[str, Any] = {"torch": str(torch.__version__), "cuda": torch.version.cuda,
                             "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None}
    if torch.cuda.is_available():
        facts["gpus"] = [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]
    facts["device"] = device
    return facts


def run_record(phase: str, processes: int = 1, device: str | None = None,
               config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The record of a run starting now: code, command, software, hardware, processes, host, start time;
    `config` is the resolved configuration (None where the record travels with it, as in a checkpoint)."""
    record: dict[str, Any] = {
        "format_version": FORMAT_VERSION, "phase": phase, "started": now(), "ended": None,
        "command": masked([Path(sys.executable).name, *sys.argv]), "working_directory": os.getcwd(),
        "code": code_state(),
        "software": {"python": platform.python_version(), **_package_versions(), **_torch_facts(device)},
        "cpu": cpu_description(),
        "kernel_variables": {name: os.environ[name] for name in KERNEL_VARIABLES if name in os.environ},
        "launcher": {name: os.environ[name] for name in LAUNCHER_VARIABLES if name in os.environ},
        "processes": processes, "host": socket.gethostname(), "user": _user(), "platform": platform.platform(),
    }
    if config is not None:
        record["config"] = masked(config)
    return record


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def finished(record: dict[str, Any], outcome: str = "finished") -> dict[str, Any]:
    """The record with its end time and how the run ended ("finished", or why it stopped)."""
    return {**record, "ended": now(), "outcome": outcome}


def session_summary(record: dict[str, Any]) -> dict[str, Any]:
    """A short form of a training session's record, for the `earlier_sessions` of the run it continued."""
    code = record.get("code") or {}
    return {"started": record.get("started"), "ended": record.get("ended") or record.get("written"),
            "commit": code.get("commit"), "dirty": code.get("dirty"), "host": record.get("host"),
            "processes": record.get("processes"), "cpu": (record.get("cpu") or {}).get("model"),
            "torch_kernels": (record.get("cpu") or {}).get("torch_kernels"),
            "gpus": (record.get("software") or {}).get("gpus")}


def without_diffs(record: Any) -> Any:
    """The record with every diff's text left out (its SHA-256 stays), for JSON files beside which the diff is
    a file of its own; the records of the weights a run started from included."""
    if isinstance(record, dict):
        return {key: without_diffs(value) for key, value in record.items() if key != "diff"}
    if isinstance(record, list):
        return [without_diffs(value) for value in record]
    return record


# What stays in the run folder's local record (provenance.json) and never travels in what users publish
# (checkpoints, an exported folder): who ran it where, how, and the text of their uncommitted changes
PRIVATE_FIELDS = ("command", "working_directory", "host", "user", "launcher")
PRIVATE_CODE_FIELDS = ("diff", "untracked", "untracked_not_listed")
# configuration keys that hold local paths: a public record keeps their last part only
PATH_KEYS = ("work_dir", "load_weights", "load_checkpoints", "sclite_path", "dataset_info.dataset_root",
             "dataset_info.info_dir", "dataset_info.gloss_dict", "dataset_info.evaluation_dir",
             "model_args.pretrained_backbone", "predict_args.inputs", "predict_args.output_dir", "export_args.output",
             "synthetic.root", "translation_args.translator")
WEIGHT_NOTES = ("weights", "evaluated", "translator")


def _last_part(value: Any) -> Any:
    if isinstance(value, list):
        return [_last_part(item) for item in value]
    return Path(value).name if isinstance(value, str) and value else value


def public_config(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration with every local path (PATH_KEYS) cut to its last part (a file's name)."""
    public = json.loads(json.dumps(config))
    for dotted in PATH_KEYS:
        *sections, key = dotted.split(".")
        holder = public
        for section in sections:
            holder = holder.get(section) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and key in holder:
            holder[key] = _last_part(holder[key])
    return public


def public_record(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a published checkpoint or exported model may say of how it was made: the code's commit, whether the
    tree was changed and the diff's SHA-256, versions, hardware and kernels, processes, times, the configuration
    without local paths, the data's fingerprint, the records of the weights it started from (public too); never
    the user, host, working directory, command line, the diff's text, untracked file names or cluster addresses."""
    if not isinstance(record, dict):
        return record
    public = {key: value for key, value in record.items() if key not in PRIVATE_FIELDS}
    if isinstance(record.get("code"), dict):
        public["code"] = {key: value for key, value in record["code"].items() if key not in PRIVATE_CODE_FIELDS}
    if isinstance(record.get("config"), dict):
        public["config"] = public_config(record["config"])
    for key in WEIGHT_NOTES:
        if isinstance(record.get(key), dict):
            note = record[key]
            public[key] = {"checkpoint": _last_part(note.get("checkpoint")),
                           "provenance": public_record(note.get("provenance"))}
    if isinstance(record.get("earlier_sessions"), list):
        public["earlier_sessions"] = [{key: value for key, value in session.items() if key != "host"}
                                      for session in record["earlier_sessions"]]
    return json.loads(json.dumps(public))


def write_record(path: Path, record: dict[str, Any]) -> dict[str, Any]:
    """`path` (JSON) and, when the tree had changes, the diff beside it (`<name>.diff`): the JSON names it and
    holds its SHA-256 instead of the text. Returns what the JSON holds."""
    diff = (record.get("code") or {}).get("diff")
    written = without_diffs(record)
    diff_path = path.with_suffix(".diff")
    if diff:
        write_text_atomic(diff_path, diff)
        written["code"]["diff_file"] = diff_path.name
    else:  # an earlier run's diff must not pass for this one's
        diff_path.unlink(missing_ok=True)
    write_json_atomic(path, written)
    return written


def write_run_records(directory: Path, record: dict[str, Any]) -> dict[str, Any]:
    """A run's resolved configuration (config_record: config.yaml for training) and its record
    (provenance_record, with the diff beside it) in `directory`, beside the outputs they describe; returns the
    record as written."""
    import yaml

    phase = record["phase"]
    write_text_atomic(directory / config_record(phase), yaml.safe_dump(record["config"], sort_keys=False))
    return write_record(directory / provenance_record(phase), record)


def describe(record: dict[str, Any] | None) -> str:
    """One line for logs and notes: commit (and changes), host, CPU kernels, processes."""
    if not record:
        return "no record of what produced it"
    code = record.get("code") or {}
    commit = (code["commit"][:12] if code.get("commit") else "unknown commit") + \
        (" with uncommitted changes" if code.get("dirty") else "")
    cpu = record.get("cpu") or {}
    gpus = (record.get("software") or {}).get("gpus")
    hardware = ", ".join(gpus) if gpus and str((record.get("software") or {}).get("device")).startswith("cuda") else \
        f"{cpu.get('model', 'unknown CPU')} ({cpu.get('torch_kernels') or '/'.join(cpu.get('instruction_sets', []))})"
    return f"code {commit}, {record.get('host')}, {hardware}, {record.get('processes', 1)} process(es)"


class RunRecord:
    """The record of the running phase, as every part of a run uses it: written beside the outputs (main process
    only), carried by checkpoints and exported models, told which weights the run read and which earlier
    sessions a resumed run continues."""

    def __init__(self, record: dict[str, Any], is_main: bool = True) -> None:
        self.record, self.is_main = record, is_main

    def write(self, directory: Path, outcome: str = "finished") -> dict[str, Any] | None:
        """The resolved configuration and the record beside the outputs they describe (a failed run leaves the
        old ones): `config.yaml` and `provenance.json` for training, `<phase>_config.yaml` and
        `<phase>_provenance.json` for the other phases, so that testing or predicting into a training run's
        directory never replaces the record of how it was trained. Returns the record as written (None on the
        other processes, which write nothing)."""
        if not self.is_main:
            return None
        return write_run_records(directory, finished(self.record, outcome))

    def for_checkpoint(self) -> dict[str, Any]:
        """The record as a checkpoint or an exported model's description carries it: public (public_record: what
        is meant to be shared says nothing of the user's machine), without the configuration (a checkpoint holds it
        under `config`, model.json what prediction needs of it), with the time it was written; plain JSON data, as
        a checkpoint must hold (utils/checkpoint.py)."""
        record = {**{key: value for key, value in self.record.items() if key != "config"}, "written": now()}
        return public_record(record)

    def note_weights(self, path: Path, checkpoint: dict, key: str = "weights") -> None:
        """Which checkpoint the run's weights came from (`weights`), or which one training's final test evaluated
        (`evaluated`), with that checkpoint's own record (official checkpoints have none)."""
        self.record[key] = {"checkpoint": str(path), "provenance": checkpoint.get("provenance")}

    def continue_from(self, earlier: dict[str, Any] | None, checkpoint: Path) -> None:
        """A resumed run lists the sessions before it (their short records)."""
        earlier = earlier or {"checkpoint": str(checkpoint), "note": "it records nothing of what produced it"}
        self.record["earlier_sessions"] = [*earlier.get("earlier_sessions", []), session_summary(earlier)]
