"""`--phase predict --load-weights model.onnx`: prediction through ONNX Runtime, without torch.

The same inputs, outputs and files as prediction with a checkpoint (deploy/prediction.py); the network is the
exported graph, the clip is read as model.json says the model's training data was read, padded as the collate
pads one clip, and decoded with the configured decoding. main.py comes here before importing anything of torch.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np

from decoding.ctc_decoder import CTCDecoder
from deploy.onnx_format import (FEATURES_NAME, INPUT_NAME, OUTPUT_NAME, ExportedModel, ExportedModelError,
                                session_providers)
from deploy.onnx_translator import OnnxTranslator
from deploy.prediction import PredictionWriter, Runtime, pad_clip, prediction_geometry, predict_inputs
from utils.config.merge import to_dict
from utils.config.schema import Config, ConfigError, DecodeArgs
from utils.logging import setup_logging
from utils.provenance import finished, run_record, write_run_records
from utils.work_dir import PREDICTIONS_DIR, ensure_writable_directory

logger = logging.getLogger("slowfastsign")


class OnnxRecognizer:
    """An exported model in ONNX Runtime: a prepared clip (uint8 T x H x W x 3) in, its logits (T' x C) out."""

    def __init__(self, exported: ExportedModel, threads: int = 0) -> None:
        import onnxruntime

        self.exported = exported
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        try:
            self.session = onnxruntime.InferenceSession(str(exported.onnx_path), options,
                                                        providers=session_providers())
        except Exception as error:  # ONNX Runtime raises its own types for a file it cannot load
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ExportedModelError(f"{exported.onnx_path} cannot be loaded by ONNX Runtime ({reason}); export the "
                                     f"model again") from None
        inputs = [item.name for item in self.session.get_inputs()]
        outputs = [item.name for item in self.session.get_outputs()]
        if inputs != [INPUT_NAME] or OUTPUT_NAME not in outputs:
            raise ExportedModelError(f"{exported.onnx_path} takes {inputs} and gives {outputs}, not this project's "
                                     f"[{INPUT_NAME}] -> [{OUTPUT_NAME}]")
        self.has_features = FEATURES_NAME in outputs
        self.left_pad, self.stride = exported.padding

    def logits(self, clip: np.ndarray) -> np.ndarray:
        return self.outputs(clip)[0]

    def outputs(self, clip: np.ndarray) -> list[np.ndarray]:
        """The clip's logits, and a joint model's BiLSTM features after them."""
        frames = pad_clip(clip, self.left_pad, self.stride)[None]
        names = [OUTPUT_NAME, FEATURES_NAME] if self.has_features else [OUTPUT_NAME]
        return self.session.run(names, {INPUT_NAME: np.ascontiguousarray(frames)})


def decoding_settings(config: Config, recorded: dict[str, Any]) -> tuple[str, DecodeArgs]:
    """How an exported model decodes: as its model.json records (the settings of the run that exported it), each
    key unless the command line sets it for this run."""
    chosen = config.command_line_keys
    mode = config.decode_mode if "decode_mode" in chosen or "mode" not in recorded else str(recorded["mode"])
    values = {item.name: getattr(config.decode_args, item.name)
              if f"decode_args.{item.name}" in chosen or item.name not in recorded else recorded[item.name]
              for item in dataclasses.fields(DecodeArgs)}
    return mode, DecodeArgs(**values)


def predict_with_onnx(config: Config) -> list[dict]:
    """Recognise every input of `config.predict_args` with the exported model `config.load_weights`."""
    provenance = run_record(config.phase, 1, "onnxruntime", to_dict(config))
    args = config.predict_args
    if not args.inputs:
        raise ConfigError("--phase predict needs inputs: --input video.mp4 [frames_dir ...]")
    work_dir = Path(config.work_dir)
    ensure_writable_directory(work_dir)
    setup_logging(work_dir)
    exported = ExportedModel.read(config.load_weights)
    recognizer = OnnxRecognizer(exported)
    mode, decode_args = decoding_settings(config, exported.decoding)
    decoder = CTCDecoder.from_settings(exported.gloss_dict, exported.num_classes, mode, decode_args)
    geometry = prediction_geometry(config, exported.input_geometry)
    logger.info("Predicting with %s in ONNX Runtime, %s (from %s); reading inputs as its training data: %s",
                exported.onnx_path, recognizer.session.get_providers()[0],
                exported.description.get("source", {}).get("checkpoint", "?"), geometry.describe())
    out_dir = Path(args.output_dir) if args.output_dir else work_dir / PREDICTIONS_DIR
    run, translate, translate_long = recognizer.logits, None, True
    if "translation" in exported.description:
        described = exported.description["translation"]
        translator = OnnxTranslator(described, {described[role]: exported.onnx_path.parent / described[role]
                                                for role in ("encoder", "decoder")})
        logger.info("Translating with the exported translator (%s)", described["source"])
        if described["source"] == "glosses":
            translate = translator.translate_glosses
        else:  # a joint model: each clip's sentence from its features (long recordings are not translated)
            translated: dict[str, str] = {}

            def run(clip: np.ndarray) -> np.ndarray:
                logits, features = recognizer.outputs(clip)
                translated["last"] = translator.translate_features(features)
                return logits

            translate, translate_long = (lambda glosses: translated.get("last", "")), False
    results = predict_inputs(Runtime(run=run, stride=recognizer.stride), decoder, args.inputs, geometry, args,
                             PredictionWriter(out_dir, decoder.vocabulary, args.fps, args.alignment_pictures, translate,
                                              args.pause, translate_long))
    provenance["weights"] = {"onnx": str(exported.onnx_path), "provenance": exported.description.get("provenance"),
                             "provider": recognizer.session.get_providers()[0]}
    write_run_records(out_dir, finished(provenance))
    return results
