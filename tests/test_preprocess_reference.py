"""Annotation files rebuilt from the reference records must give back the reference metadata exactly."""
import json
from pathlib import Path

from preprocess.cli import main
from dataset.paths import SHIPPED_METADATA_DIR as META_DIR


def reference_records(dataset, split):
    lines = (META_DIR / dataset / f"{split}_info.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if set(r) != {"prefix"}]


def run(dataset, root, output, *extra):
    assert main(["--dataset", dataset, "--dataset-root", str(root), "--output", str(output), "--skip-frames", *extra]) == 0


def assert_same_gloss_dict(output, dataset):
    built = json.loads((output / "gloss_dict.json").read_text(encoding="utf-8"))
    shipped = json.loads((META_DIR / dataset / "gloss_dict.json").read_text(encoding="utf-8"))
    assert list(built.items()) == list(shipped.items())


def assert_same_records(output, dataset, split, keys=("fileid", "folder", "signer", "label", "original_info", "index")):
    built = [
        r for r in map(json.loads, (output / f"{split}_info.jsonl").read_text(encoding="utf-8").splitlines())
        if set(r) != {"prefix"}]
    reference = reference_records(dataset, split)
    assert [[r[k] for k in keys] for r in built] == [[r[k] for k in keys] for r in reference]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def assert_matches_reference(out, dataset, splits, **record_options):
    """Every split's records equal the reference ones and its STM is byte-identical to the shipped one."""
    for split in splits:
        assert_same_records(out, dataset, split, **record_options)
        name = f"{dataset}-groundtruth-{split}.stm"
        assert (out / name).read_bytes() == (META_DIR / dataset / name).read_bytes()


def test_phoenix2014_rebuild_drops_the_broken_train_row(tmp_path):
    root = tmp_path / "phoenix-2014-multisigner"
    for split in ("dev", "test", "train"):
        rows = [r["original_info"] for r in reference_records("phoenix2014", split)]
        if split == "train":
            assert len(rows) == 5671
            rows.insert(2390, "13April_2011_Wednesday_tagesschau_default-14|broken/1/*.png|Signer01|KAPUTT")
        write(root / "annotations" / "manual" / f"{split}.corpus.csv",
              "id|folder|signer|annotation\n" + "\n".join(rows) + "\n")
    run("phoenix2014", root, tmp_path / "out")
    assert_same_gloss_dict(tmp_path / "out", "phoenix2014")
    assert_matches_reference(tmp_path / "out", "phoenix2014", ("dev", "test", "train"))


def test_phoenix2014_prefers_the_corpus_evaluation_stm(tmp_path):
    root = tmp_path / "corpus"
    for split in ("dev", "test", "train"):
        write(root / "annotations" / "manual" / f"{split}.corpus.csv",
              f"id|folder|signer|annotation\nv{split}|v{split}/1/*.png|Signer01|A B\n")
    write(root / "evaluation" / "phoenix2014-groundtruth-dev.stm", "vdev 1 signer01 0.0 1.79769e+308 A B\n")
    run("phoenix2014", root, tmp_path / "out")
    assert (tmp_path / "out" / "phoenix2014-groundtruth-dev.stm").read_text() == "vdev 1 signer01 0.0 1.79769e+308 A B\n"
    assert (tmp_path / "out" / "phoenix2014-groundtruth-test.stm").read_text() == "vtest 1 Signer01 0.0 1.79769e+308 A B\n"
    assert json.loads((tmp_path / "out" / "gloss_dict.json").read_text()) == {"A": [1, 3], "B": [2, 3]}


def test_phoenix2014_t_rebuild_is_identical(tmp_path):
    root = tmp_path / "PHOENIX-2014-T"
    for split in ("dev", "test", "train"):
        rows = [r["original_info"] for r in reference_records("phoenix2014-T", split)]
        write(root / "annotations" / "manual" / f"PHOENIX-2014-T.{split}.corpus.csv",
              "name|video|start|end|speaker|orth|translation\n" + "\n".join(rows) + "\n")
    run("phoenix2014-T", root, tmp_path / "out")
    assert_same_gloss_dict(tmp_path / "out", "phoenix2014-T")
    assert_matches_reference(tmp_path / "out", "phoenix2014-T", ("dev", "test", "train"))


def test_csl_rebuild_is_identical(tmp_path):
    for split in ("train", "dev"):
        write(tmp_path / "CSL" / f"{split}.txt", "".join(r["original_info"] for r in reference_records("CSL", split)))
    run("CSL", tmp_path / "CSL", tmp_path / "out")
    assert_same_gloss_dict(tmp_path / "out", "CSL")
    assert_matches_reference(tmp_path / "out", "CSL", ("train", "dev"),
                             keys=("fileid", "signer", "label", "original_info", "index"))


def test_csl_daily_rebuild_gives_identical_stms(tmp_path):
    # The release lacks CSL-Daily's train info, so the label file holds dev + test only.
    records = reference_records("CSL-Daily", "dev") + reference_records("CSL-Daily", "test")
    lines = [f"{i}|{r['original_info']}" for i, r in enumerate(records)]
    write(tmp_path / "CSL-Daily" / "sentence_label" / "video_map.txt",
          "index|name|length|gloss|char|word|postag\n" + "".join(lines))
    run("CSL-Daily", tmp_path / "CSL-Daily", tmp_path / "out")
    for split in ("dev", "test"):
        assert_same_records(tmp_path / "out", "CSL-Daily", split)
        name = f"CSL-Daily-groundtruth-{split}.stm"
        assert (tmp_path / "out" / name).read_bytes() == (META_DIR / "CSL-Daily" / name).read_bytes()
    assert (tmp_path / "out" / "CSL-Daily-groundtruth-train.stm").read_text() == ""


def test_malformed_annotation_is_one_clear_error(tmp_path, capsys):
    write(tmp_path / "annotations" / "manual" / "dev.corpus.csv", "id|folder|signer|annotation\na|b|c\n")
    assert main(["--dataset", "phoenix2014", "--dataset-root", str(tmp_path), "--output", str(tmp_path / "o"),
                 "--skip-frames"]) == 1
    error = capsys.readouterr().err.strip()
    assert "dev.corpus.csv:2" in error and "expected 4" in error and "\n" not in error
