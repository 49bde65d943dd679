"""Error analysis: totals equal the scorer's, breakdowns against hand counts, the bootstrap, the charts' content."""
import json

import numpy as np
import pytest

from evaluation import score
from evaluation.alignment_figure import alignment_figure, top_classes
from evaluation.analyse import main as analyse_main
from evaluation.analysis_charts import FIGURES, markdown
from evaluation.error_analysis import analyse, compare, length_bucket

# signer01: v1 (4 words) A B C D -> A X C D Y: S(B->X) + I(Y); v2 (2 words) E F -> E F: correct
# signer02: v3 (6 words) A B C D E F -> A C D E F: D(B); v4 (1 word) G -> (nothing): [EMPTY] S(G->[EMPTY])
STM = ("v1 1 signer01 0.0 1.79769e+308 A B C D\n"
       "v2 1 signer01 0.0 1.79769e+308 E F\n"
       "v3 1 signer02 0.0 1.79769e+308 A B C D E F\n"
       "v4 1 signer02 0.0 1.79769e+308 G\n")
CTM_LINES = {"v1": "A X C D Y", "v2": "E F", "v3": "A C D E F"}


def write_ctm(path, sentences):
    path.write_text("".join(f"{fid} 1 {i / 100:.2f} {(i + 1) / 100:.2f} {g}\n"
                            for fid, text in sentences.items() for i, g in enumerate(text.split())))
    return path


@pytest.fixture
def files(tmp_path):
    (tmp_path / "ref.stm").write_text(STM)
    return tmp_path / "ref.stm", write_ctm(tmp_path / "hyp.ctm", CTM_LINES)


@pytest.mark.parametrize("tool", ["python", "sclite"])
def test_totals_and_breakdowns_match_hand_counts(files, tool):
    stm, ctm = files
    report = score(ctm, stm, tool=tool, sclite="/nonexistent")
    analysis = analyse(report)
    total = analysis.total
    assert (total.substitutions, total.deletions, total.insertions, total.words) == (
        report.substitutions, report.deletions, report.insertions, report.num_ref_words) == (2, 1, 1, 13)
    signer01, signer02 = analysis.signers["signer01"], analysis.signers["signer02"]
    assert (signer01.errors, signer01.words) == (2, 6) and signer01.wer == pytest.approx(100 * 2 / 6)
    assert (signer02.errors, signer02.words) == (2, 7) and signer02.wer == pytest.approx(100 * 2 / 7)
    assert {bucket: (r.sentences, r.errors, r.words) for bucket, r in analysis.lengths.items()} == {
        "1-4": (3, 3, 7), "5-8": (1, 1, 6)}
    assert analysis.glosses["B"].to_json() == {"references": 2, "correct": 0, "substituted": 1, "deleted": 1,
                                               "inserted": 0, "errors": 2, "substituted_by": {"X": 1}}
    assert analysis.glosses["Y"].inserted == 1 and analysis.glosses["A"].correct == 2
    assert analysis.substitution_pairs == {("B", "X"): 1, ("G", "[EMPTY]"): 1}


def test_length_buckets():
    assert [length_bucket(n) for n in (1, 4, 5, 12, 13, 17, 40)] == ["1-4", "1-4", "5-8", "9-12", "13-16", "17+",
                                                                     "17+"]


def test_bootstrap_is_seeded_and_brackets_the_observed_difference(files, tmp_path):
    stm, ctm = files
    worse = write_ctm(tmp_path / "worse.ctm", {"v1": "Q", "v2": "E", "v3": "A B C D E F"})
    a, b = score(ctm, stm), score(worse, stm)
    first, again = compare(a, b, resamples=500, seed=3), compare(a, b, resamples=500, seed=3)
    assert first == again
    assert first.difference == pytest.approx(a.wer - b.wer)
    assert first.interval[0] <= first.difference <= first.interval[1]
    assert first.only_a_correct == ["v2"] and first.only_b_correct == ["v3"]
    same = compare(a, a, resamples=200, seed=0)
    assert same.difference == 0 and same.interval == (0.0, 0.0) and same.p_value == 1.0


def test_a_clear_difference_is_significant(tmp_path):
    refs = {f"u{k:03d}": " ".join(f"G{(k + j) % 9}" for j in range(6)) for k in range(120)}
    (tmp_path / "ref.stm").write_text("".join(f"{k} 1 s 0.0 1.79769e+308 {v}\n" for k, v in refs.items()))
    good = write_ctm(tmp_path / "good.ctm", refs)
    rng = np.random.default_rng(0)
    bad = write_ctm(tmp_path / "bad.ctm", {k: " ".join(w for w in v.split() if rng.random() > 0.3) or "G0"
                                           for k, v in refs.items()})
    result = compare(score(good, tmp_path / "ref.stm"), score(bad, tmp_path / "ref.stm"), resamples=400)
    assert result.difference < 0 and result.interval[1] < 0 and result.p_value < 0.01


def test_charts_have_titles_labels_and_content(files):
    stm, ctm = files
    analysis = analyse(score(ctm, stm))
    expected = {"wer_per_signer": ("WER per signer", "signer", "WER (%)"),
                "wer_by_length": ("WER by sentence length", "reference length (glosses)", "WER (%)"),
                "error_prone_glosses": ("Most error-prone glosses", "gloss", "errors (count)"),
                "confusions": ("Confusions among", "recognised as", "reference gloss")}
    for name, build in FIGURES.items():
        figure = build(analysis)
        axes = figure.axes[0]
        title, xlabel, ylabel = expected[name]
        assert axes.get_title().startswith(title) and axes.get_xlabel() == xlabel and axes.get_ylabel() == ylabel
    signer_axes = FIGURES["wer_per_signer"](analysis).axes[0]
    assert [round(p.get_height(), 3) for p in signer_axes.patches] == [round(100 * 2 / 6, 3), round(100 * 2 / 7, 3)]
    confusion_axes = FIGURES["confusions"](analysis).axes[0]
    assert confusion_axes.images[0].get_array().sum() == 2  # the two substitutions
    # B -> X and G -> [EMPTY], each once, written in its cell
    assert sorted(t.get_text() for t in confusion_axes.texts) == ["1", "1"]
    for name in ("wer_per_signer", "wer_by_length", "error_prone_glosses"):
        axes = FIGURES[name](analysis).axes[0]
        tallest = max(p.get_y() + p.get_height() for p in axes.patches)
        assert axes.get_ylim()[1] >= 1.15 * tallest, name  # room above the tallest bar and its label
        left, right = axes.get_xlim()
        assert right - left >= 6, name  # a few bars do not fill the plot
    glosses = FIGURES["error_prone_glosses"](analysis).axes[0]
    assert glosses.get_legend().get_bbox_to_anchor().x0 >= glosses.get_window_extent().x1  # beside the bars


def test_an_analysis_without_substitutions_says_so(files, tmp_path):
    stm, _ = files
    perfect = write_ctm(tmp_path / "perfect.ctm", {"v1": "A B C D", "v2": "E F", "v3": "A B C D E F", "v4": "G"})
    analysis = analyse(score(perfect, stm))
    figure = FIGURES["confusions"](analysis)
    assert len(figure.axes) == 1 and not figure.axes[0].images  # no matrix, no colour bar
    assert [t.get_text() for t in figure.axes[0].texts] == [f"No substitutions in {analysis.name}"]
    text = markdown(analysis)
    assert "## Most frequent substitutions\n\nNo substitutions.\n" in text and "| reference |" not in text


def test_cli_writes_json_markdown_and_charts(files, tmp_path, capsys):
    stm, ctm = files
    worse = write_ctm(tmp_path / "worse.ctm", {"v1": "Q"})
    out = tmp_path / "analysis"
    assert analyse_main(["--hyp", str(ctm), "--ref", str(stm), "--out-dir", str(out), "--compare", str(worse)]) == 0
    content = json.loads((out / "analysis.json").read_text())
    report = score(ctm, stm)
    assert (content["total"]["substitutions"], content["total"]["deletions"], content["total"]["insertions"],
            content["total"]["words"]) == (report.substitutions, report.deletions, report.insertions,
                                           report.num_ref_words)
    assert content["comparison"]["only_a_correct"] == ["v2"]
    text = (out / "analysis.md").read_text()
    assert "| B | 2 | 0 | 1 | 1 | 0 | X (1) |" in text and "paired bootstrap" in text
    assert f"## Compared with {worse}" in text and f"Sentences only {ctm} gets right: 1; only {worse}: 0" in text
    for name in FIGURES:
        assert (out / f"{name}.png").stat().st_size > 5000
    assert "written to" in capsys.readouterr().out
    assert markdown(analyse(report)).startswith("# Error analysis")


def test_alignment_picture_shows_frames_glosses_and_posteriors():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    posteriors = rng.dirichlet(np.ones(6), size=10)
    posteriors[2:4, 3] = 5.0
    posteriors /= posteriors.sum(1, keepdims=True)
    vocabulary = ["<blank>", "A", "B", "C", "D", "E"]
    assert top_classes(posteriors)[:2] == [0, 3]
    figure = alignment_figure(frames, posteriors, ["C", "A"], [(2, 4), (6, 7)], vocabulary, 4, "clip: C A")
    strip, spans, heat = figure.axes[:3]
    assert strip.get_title() == "clip: C A" and heat.get_xlabel() == "frame" and heat.get_ylabel() == "class"
    assert [t.get_text() for t in spans.texts] == ["C", "A"]
    assert [t.get_text() for t in heat.get_yticklabels()][:2] == ["<blank>", "C"]
    assert spans.patches[0].get_x() == 8 and heat.images[0].get_array().shape == (len(top_classes(posteriors)), 10)
