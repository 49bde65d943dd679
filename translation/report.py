"""What a translation test writes and prints, for gloss-to-text and for recognised glosses alike: the table of
translations with their ids and references, and the score line with sacreBLEU's signatures."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from utils.io import atomic_open


def write_translation_table(path: Path, ids: Sequence[str], translations: Sequence[str], references: Sequence[str],
                            glosses: Sequence[str] | None = None) -> None:
    """A TSV with a header: id, translation, reference (and the glosses translated, when they were recognised)."""
    with atomic_open(path, "w") as handle:
        handle.write("id\ttranslation\treference" + ("\tglosses" if glosses is not None else "") + "\n")
        for row, (name, translation, reference) in enumerate(zip(ids, translations, references)):
            extra = f"\t{glosses[row]}" if glosses is not None else ""
            handle.write(f"{name}\t{translation}\t{reference}{extra}\n")


def score_line(split: str, figures: dict, source: str) -> str:
    """One split's translation scores as printed; `source` says what was translated and how."""
    return (f"{split}: BLEU-4 {figures['bleu4']:.2f} (BLEU-1..3 {figures['bleu1']:.2f} / {figures['bleu2']:.2f} / "
            f"{figures['bleu3']:.2f}; 13a BLEU-4 {figures['bleu4_13a']:.2f}), ROUGE-L {figures['rouge']:.2f}, chrF "
            f"{figures['chrf']:.2f} on {figures['sentences']} sentences ({source})")


def signature_line(figures: dict) -> str:
    signatures = figures["signatures"]
    return f"sacreBLEU signatures: BLEU {signatures['bleu']}; 13a {signatures['bleu_13a']}; chrF {signatures['chrf']}"
