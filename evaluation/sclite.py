"""Running the NIST sclite binary when one is installed, for reports identical to the official ones."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

DEBIAN_SCLITE = "/usr/lib/sctk/bin/sclite"
REPORT_SUFFIXES = {"sum": ".sys", "rsum": ".raw", "pra": ".pra", "sgml": ".sgml", "dtl": ".dtl"}

_TOTAL_ERROR = re.compile(r"Percent Total Error\s*=\s*([\d.]+)%\s*\(\s*(\d+)\)")
_COUNT_LINE = re.compile(r"Percent (Substitution|Deletions|Insertions)\s*=\s*[\d.]+%\s*\(\s*(\d+)\)")
_REF_WORDS = re.compile(r"Ref\. words\s*=\s*\(\s*(\d+)\)")


@dataclass
class ScliteResult:
    """What sclite's `dtl` report says, and where its reports were written."""

    wer: float
    errors: int
    substitutions: int
    deletions: int
    insertions: int
    num_ref_words: int
    reports: dict[str, Path]


def find_sclite(explicit: str | None = None) -> str | None:
    """The sclite to use: an explicit path, else `sclite` on PATH, else Debian's sctk location, else None."""
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    on_path = shutil.which("sclite")
    if on_path:
        return on_path
    return DEBIAN_SCLITE if os.access(DEBIAN_SCLITE, os.X_OK) else None


def run_sclite(binary: str, hyp_ctm: Path, ref_stm: Path, out_dir: Path, name: str) -> ScliteResult:
    """Score with the official flags (`-h ctm -r stm -f 0`), writing sum/rsum/pra/sgml/dtl reports into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    base = [binary, "-h", str(hyp_ctm), "ctm", "-r", str(ref_stm), "stm", "-f", "0", "-O", str(out_dir), "-n", name]
    for outputs in (["sgml", "sum", "rsum", "pra"], ["dtl"]):
        completed = subprocess.run(base + ["-o", *outputs], capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            tail = (completed.stderr or completed.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"sclite exited with {completed.returncode}: {tail[0]}")
    reports = {kind: out_dir / f"{name}{suffix}" for kind, suffix in REPORT_SUFFIXES.items()}
    return parse_dtl(reports["dtl"].read_text(encoding="utf-8", errors="replace"), reports)


def parse_dtl(text: str, reports: dict[str, Path]) -> ScliteResult:
    """The overall figures of a `dtl` report."""
    total = _TOTAL_ERROR.search(text)
    ref_words = _REF_WORDS.search(text)
    if total is None or ref_words is None:
        raise RuntimeError("sclite's dtl report has no 'Percent Total Error' / 'Ref. words' line")
    counts = {kind: int(value) for kind, value in _COUNT_LINE.findall(text)}
    return ScliteResult(
        wer=float(total.group(1)),
        errors=int(total.group(2)),
        substitutions=counts.get("Substitution", 0),
        deletions=counts.get("Deletions", 0),
        insertions=counts.get("Insertions", 0),
        num_ref_words=int(ref_words.group(1)),
        reports=reports,
    )
