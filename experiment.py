"""One run of main.py once its configuration is validated: the work directory, logging, seeds, devices and
(under torchrun) the process group; then the configured task (tasks/) and the phase dispatched to it: training
through the trainer (training/trainer.py), the other phases to the task itself.

main.py imports this module only after parsing, so `--help` and configuration errors answer without
loading torch.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable

from dataset.paths import DataPaths
from training.preemption import TrainingStopped
from training.trainer import Trainer
from utils.allocator import reexec_under_jemalloc
from deploy.model_folder import config_for_folder, is_model_folder
from utils.config.merge import resolve_path, to_dict
from utils.config.schema import Config, ConfigError
from utils.errors import UserError
from utils.distributed import DistContext, barrier, cleanup, init_distributed, peer_failure, select_device
from utils.launch import launch_environment
from utils.logging import setup_logging
from utils.provenance import RunRecord, describe, run_record
from utils.random_state import configure_determinism, seed_everything
from utils.work_dir import ensure_writable_directory

logger = logging.getLogger("slowfastsign")


def data_folder(config: Config, context: DistContext) -> Path | None:
    """The info folder of the bundled demo corpus, prepared by the main process (the others wait) when
    `synthetic.enabled`; None: the configuration's dataset_info says where the data is."""
    if not config.synthetic.enabled:
        return None
    from preprocess.demo_corpus import demo_info_dir, prepare_demo_corpus

    if context.is_main:
        prepare_demo_corpus(config)
    barrier(context)
    return demo_info_dir(config)


def build_task(config: Config, context: DistContext, paths: DataPaths, record: RunRecord) -> Any:
    """The configured task (`task`), its model built."""
    if config.task == "translation":
        from tasks.translation import TranslationTask

        return TranslationTask(config, context, paths, record)
    if config.task == "joint":
        from tasks.joint import JointTask

        return JointTask(config, context, paths, record)
    from tasks.recognition import RecognitionTask

    return RecognitionTask(config, context, paths, record)


def train(task: Any) -> dict:
    return Trainer(task, task.config, task.context, task.record).fit()


# phase -> what runs it, given the task
PHASES: dict[str, Callable[[Any], Any]] = {
    "train": train, "test": lambda task: task.test(), "features": lambda task: task.features(),
    "predict": lambda task: task.predict(), "export": lambda task: task.export(),
}


def run(config: Config, context: DistContext) -> Any:
    """Set up the work directory, logging and seeds, then run the configured phase of the configured task (a model
    folder of --phase export in --load-weights brings its network's shape and decoding, deploy/model_folder.py)."""
    folder = resolve_path(config.load_weights) if config.load_weights else None
    if folder is not None and is_model_folder(folder):
        config = config_for_folder(config, folder)
    record = RunRecord(run_record(config.phase, context.world_size, str(context.device), to_dict(config)),
                       context.is_main)
    work_dir = Path(config.work_dir)
    if context.is_main:
        ensure_writable_directory(work_dir)
    setup_logging(work_dir, context.is_main)
    seed_everything(config.random_seed)
    configure_determinism(config.deterministic)
    allocator = "jemalloc" if "jemalloc" in os.environ.get("LD_PRELOAD", "") else "system"
    logger.info("Phase %s, dataset %s, work dir %s, device %s, %s allocator", config.phase, config.dataset, work_dir,
                context.device, allocator)
    logger.info("Run of %s", describe(record.record))
    paths = DataPaths(config, data_folder(config, context))
    record.record["data"] = paths.fingerprint()
    task = build_task(config, context, paths, record)
    return PHASES[config.phase](task)


def check_launch(config: Config) -> None:
    """What the configuration asks of this launch that the machine cannot give, refused before anything runs."""
    processes = launch_environment().world_size
    if config.sync_bn and processes > 1 and select_device(config.device).type == "cpu":
        raise ConfigError("sync_bn=true needs CUDA GPUs (SyncBatchNorm has no CPU implementation): leave it off "
                          f"for this CPU run of {processes} processes, whose BatchNorm statistics then stay per process")


def launch(config: Config, allow_reexec: bool = False) -> int:
    """Check the launch, restart under jemalloc on CPU when allowed, join the process group and run."""
    check_launch(config)
    if allow_reexec and select_device(config.device).type == "cpu":
        reexec_under_jemalloc()
    context = init_distributed(config.device)
    try:
        run(config, context)
    except TrainingStopped as stopped:
        logger.info("%s (exit code %d)", stopped, stopped.exit_code)
        if context.is_main:
            print(f"{stopped} (exit code {stopped.exit_code})", file=sys.stderr)
        return stopped.exit_code
    except RuntimeError as error:
        if context.distributed and peer_failure(error):  # another process failed; its own line says why
            raise UserError("another process of this run stopped (its own error line says why); this one stops "
                            "too") from None
        raise
    finally:
        cleanup(context)
    return 0
