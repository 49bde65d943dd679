"""The Python alignment against the real NIST sclite on random sentence pairs: counts and pairs must be identical."""
import random
import re
import subprocess

import pytest

from evaluation import align, find_sclite, score

SCLITE = find_sclite()
needs_sclite = pytest.mark.skipif(SCLITE is None, reason="NIST sclite not found (apt-get install -y sctk); "
                                                         "the Python/sclite differential test cannot run")
_PATH = re.compile(r'<PATH id="[^"]*" word_cnt="\d+" file="([^"]+)"[^>]*>\n(.*?)</PATH>', re.S)


def sclite_alignments(tmp_path, pairs):
    """Run sclite once over all pairs; return {fileid: [(op, ref, hyp), ...]} from its SGML output."""
    ids = [f"u{k:04d}" for k in range(len(pairs))]
    with open(tmp_path / "ref.stm", "w", encoding="utf-8") as stm, open(tmp_path / "hyp.ctm", "w", encoding="utf-8") as ctm:
        for fileid, (ref, hyp) in zip(ids, pairs):
            stm.write(f"{fileid} 1 spk 0.0 1.79769e+308 {' '.join(ref)}\n")
            ctm.writelines(f"{fileid} 1 {t / 100:.2f} {(t + 1) / 100:.2f} {w}\n" for t, w in enumerate(hyp))
    out = subprocess.run([SCLITE, "-h", str(tmp_path / "hyp.ctm"), "ctm", "-r", str(tmp_path / "ref.stm"), "stm",
                          "-f", "0", "-o", "sgml", "stdout"], capture_output=True, text=True, check=True).stdout
    found = {}
    for fileid, body in _PATH.findall(out):
        steps = []
        for token in filter(None, body.strip().split(":")):
            op, ref, hyp = token.split(",")[:3]
            steps.append((op, ref.strip('"').lower() or None, hyp.strip('"').lower() or None))
        found[fileid] = steps
    return ids, found


def python_alignment(ref, hyp):
    return [(p.op, p.ref and p.ref.lower(), p.hyp and p.hyp.lower()) for p in align(ref, hyp).pairs]


@needs_sclite
@pytest.mark.parametrize("vocabulary, max_length, seed", [(["A", "B", "C"], 8, 0), (["A", "b", "B", "DD"], 12, 1)])
def test_random_pairs_align_exactly_like_sclite(tmp_path, vocabulary, max_length, seed):
    rng = random.Random(seed)
    pairs = [([rng.choice(vocabulary) for _ in range(rng.randint(0, max_length))],
              [rng.choice(vocabulary) for _ in range(rng.randint(0, max_length))]) for _ in range(200)]
    ids, found = sclite_alignments(tmp_path, pairs)
    assert len(found) == 200
    mismatches = [i for i, (ref, hyp) in zip(ids, pairs) if python_alignment(ref, hyp) != found[i]]
    assert mismatches == []


@needs_sclite
def test_chinese_glosses_align_like_sclite(tmp_path):
    pairs = [(["他", "今天", "年龄", "4"], ["他", "年龄", "4"]), (["今天", "星期"], ["今天", "多少", "星期"])]
    ids, found = sclite_alignments(tmp_path, pairs)
    assert [python_alignment(ref, hyp) for ref, hyp in pairs] == [found[i] for i in ids]


@needs_sclite
def test_score_runs_sclite_and_writes_its_reports(tmp_path):
    (tmp_path / "ref.stm").write_text("v1 1 s1 0.0 1.79769e+308 A B C\nv2 1 s2 0.0 1.79769e+308 D\n", encoding="utf-8")
    (tmp_path / "hyp.ctm").write_text("v1 1 0.00 0.01 A\nv1 1 0.01 0.02 C\n", encoding="utf-8")
    report = score(tmp_path / "hyp.ctm", tmp_path / "ref.stm", tool="sclite", out_dir=tmp_path / "out", name="dev")
    assert report.sclite_used and "agrees" in report.note
    assert (report.deletions, report.substitutions) == (1, 1)  # B deleted, D -> [EMPTY]
    assert {p.suffix for p in (tmp_path / "out").iterdir()} >= {".sys", ".raw", ".pra", ".dtl", ".sgml"}
    assert "Percent Total Error       =   50.0%   (   2)" in (tmp_path / "out" / "dev.dtl").read_text(encoding="utf-8")
