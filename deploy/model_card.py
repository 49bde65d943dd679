"""The model card of an exported folder (README.md): Hugging Face's card metadata (YAML front matter with a
`model-index` of the results as measured), then what the model is, what it was trained on, how to run it, where it
came from (the public record) and the corpus's licence. Imports no torch."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from utils.io import write_text_atomic

CORPORA = {
    "phoenix2014": ("RWTH-PHOENIX-Weather 2014", "https://www-i6.informatik.rwth-aachen.de/~koller/RWTH-PHOENIX/"),
    "phoenix2014-T": ("RWTH-PHOENIX-Weather 2014 T",
                      "https://www-i6.informatik.rwth-aachen.de/~koller/RWTH-PHOENIX-2014-T/"),
    "CSL-Daily": ("CSL-Daily", "http://home.ustc.edu.cn/~zhouh156/dataset/csl-daily/"),
    "CSL": ("CSL", "https://ustc-slr.github.io/datasets/2015_csl/"),
}
METRICS = {"wer": ("wer", "WER"), "bleu4": ("bleu", "BLEU-4")}


def measured_results(history: dict[str, Any] | None) -> dict[str, dict[str, float]]:
    """The best epoch's figures of the run the weights come from, per family and split ({} without a history)."""
    if not history or history.get("best_epoch") is None:
        return {}
    record = next((epoch for epoch in history.get("epochs", []) if epoch.get("epoch") == history["best_epoch"]), {})
    results: dict[str, dict[str, float]] = {}
    for family, figure in (("wer", "wer"), ("translation", "bleu4")):
        for split, figures in (record.get(family) or {}).items():
            if figure in figures:
                results.setdefault(figure, {})[split] = round(float(figures[figure]), 2)
    return results


def card_text(name: str, description: dict[str, Any]) -> str:
    """README.md of an exported folder from its model.json `description`."""
    config = description.get("config") or {}
    dataset = str(config.get("dataset", "custom"))
    task = str(config.get("task", "recognition"))
    corpus, corpus_url = CORPORA.get(dataset, (f"a corpus of one's own ({dataset})", ""))
    results = description.get("results") or {}
    index_results = []
    for figure, splits in results.items():
        metric_type, metric_name = METRICS[figure]
        for split, value in splits.items():
            index_results.append({
                "task": {"type": "sign-language-recognition" if figure == "wer" else "translation",
                         "name": "continuous sign language recognition" if figure == "wer" else
                         "sign language translation"},
                "dataset": {"name": corpus, "type": dataset, "split": split},
                "metrics": [{"type": metric_type, "value": value, "name": f"{split} {metric_name}"}]})
    metadata = {"library_name": "slowfastsign", "tags": ["sign-language", "slowfastsign", "onnx",
                                                          f"sign-language-{task}"],
                "datasets": [dataset], "model-index": [{"name": name, "results": index_results}]}
    code = (description.get("provenance") or {}).get("code") or {}
    record = description.get("provenance") or {}
    rows = "\n".join(f"| {split} | {figure_label} | {value} |" for figure, splits in results.items()
                     for figure_label in [METRICS[figure][1]] for split, value in splits.items())
    translation = description.get("translation")
    files = ["`model.onnx`: the network (uint8 frames in, CTC logits out); `model.json`: what prediction needs "
             "besides it (gloss dictionary, how frames are read and padded, decoding, the export's verification)",
             "`model.safetensors`: the PyTorch weights, as data"]
    if translation is not None:
        files.append("`translator_encoder.onnx`, `translator_decoder.onnx`: the translator (one cached decoding "
                     "step)" + ("; `translator.safetensors`: its PyTorch weights" if translation["source"] == "glosses"
                                else ""))
    return "---\n" + yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True) + f"""---

# {name}

A {"joint Sign2(Gloss+Text) " if task == "joint" else ""}SlowFastSign {"recogniser" if task != "translation" else
"model"} for {corpus}, exported by [slowfastsign](https://github.com/kaistmm/SlowFastSign) `--phase export`
{"with a gloss-to-text translator " if translation is not None and translation["source"] == "glosses" else ""}\
(ONNX, opset {description.get("opset", "?")}).

## Results, as measured by the run that trained it

| split | metric | value |
|---|---|---|
{rows or "| - | - | not evaluated |"}

The figures are the training run's best dev epoch's (that epoch was chosen on dev); WER by the
`{config.get("evaluate_tool", "python")}` scorer, BLEU by sacreBLEU without tokenisation.

## Use

```bash
python main.py --phase predict --load-weights model.onnx --input my_video.mp4   # ONNX Runtime, no PyTorch
python main.py --phase predict --load-weights . --input my_video.mp4            # PyTorch, model.safetensors
```

## Files

{chr(10).join(f"- {line}" for line in files)}

## Where it came from

Code commit `{code.get("commit") or "unknown"}`{" with uncommitted changes (diff SHA-256 `" + str(code.get("diff_sha256")) + "`)" if code.get("dirty") else ""};
torch {(record.get("software") or {}).get("torch", "?")}; data fingerprint (SHA-256 of the gloss dictionary and info
files) in `model.json` (`provenance.data`).

## Licence

The weights were trained on {corpus}{f" ({corpus_url})" if corpus_url else ""}; the corpus's licence, as its owners
state it, applies to models derived from it.
"""


def write_model_card(folder: Path, name: str, description: dict[str, Any]) -> Path:
    path = folder / "README.md"
    write_text_atomic(path, card_text(name, description))
    return path
