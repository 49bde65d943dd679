"""Entry point: `python main.py --config configs/phoenix2014.yaml [--phase train|test|features|predict] ...`.

Parses and validates the configuration first (utils/config/ imports no torch), so that `--help` and a
configuration error answer at once; only then imports experiment.py, which builds and runs the phase.
"""
from __future__ import annotations

import sys

from training.preemption import TrainingStopped, stopping_anywhere
from utils.cli import run_command
from utils.config.command_line import config_from_args


def main(argv: list[str] | None = None, allow_reexec: bool = False) -> int:
    """Run main.py: 0 on success, one `error:` line and 1 (2 for configuration errors) otherwise.
    `allow_reexec` (the command line only) lets a CPU run restart itself under jemalloc."""
    return run_command(lambda arguments: _main(arguments, allow_reexec), argv)


def _main(argv: list[str], allow_reexec: bool) -> int:
    try:
        with stopping_anywhere():  # a scheduler's SIGTERM/SIGUSR1 at any moment: exit code 75 (training/preemption.py)
            config = config_from_args(argv)
            if config.phase == "predict" and config.load_weights.endswith(".onnx"):
                from deploy.onnx_predict import predict_with_onnx  # ONNX Runtime; torch is never imported

                predict_with_onnx(config)
                return 0
            from experiment import launch  # torch and the rest load here, after the configuration is known to be good

            return launch(config, allow_reexec)
    except TrainingStopped as stopped:
        print(f"{stopped} (exit code {stopped.exit_code})", file=sys.stderr)
        return stopped.exit_code


if __name__ == "__main__":
    sys.exit(main(allow_reexec=True))
