"""The synthetic corpus: real PHOENIX-2014 layout, idempotent, and glosses told apart by motion."""
import numpy as np

from dataset.synthetic import COLOURS_RGB, draw_background, generate_synthetic_corpus, render_gloss


def test_layout_matches_phoenix2014(tmp_path):
    corpus = generate_synthetic_corpus(tmp_path, num_glosses=8, train=3, dev=2, test=1, frame_size=(30, 36))
    assert corpus == tmp_path / "phoenix-2014-multisigner"
    for split, count in (("train", 3), ("dev", 2), ("test", 1)):
        lines = (corpus / f"annotations/manual/{split}.corpus.csv").read_text().splitlines()
        assert lines[0] == "id|folder|signer|annotation" and len(lines) == count + 1
        for line in lines[1:]:
            video_id, folder, signer, label = line.split("|")
            assert folder == f"{video_id}/1/*.png" and signer.startswith("Signer")
            assert 2 <= len(label.split()) <= 5
            frames = sorted((corpus / "features/fullFrame-210x260px" / split / video_id / "1").glob("*.png"))
            assert 2 * 8 + 4 <= len(frames) <= 5 * 12 + 8


def test_generation_is_idempotent_and_seeded(tmp_path):
    first = generate_synthetic_corpus(tmp_path / "a", train=2, dev=1, test=1, frame_size=(30, 36))
    csv = first / "annotations/manual/train.corpus.csv"
    stamp = csv.stat().st_mtime_ns
    generate_synthetic_corpus(tmp_path / "a", train=2, dev=1, test=1, frame_size=(30, 36))
    assert csv.stat().st_mtime_ns == stamp
    second = generate_synthetic_corpus(tmp_path / "b", train=2, dev=1, test=1, frame_size=(30, 36))
    assert csv.read_text() == (second / "annotations/manual/train.corpus.csv").read_text()


def blob_track(frames, background):
    """Per frame: hand centre (|x - centre| so a mirror image reads the same), y, area; and its colour."""
    features, colours = [], []
    width = frames.shape[2]
    for frame in frames:
        mask = np.abs(frame.astype(int) - background.astype(int)).sum(axis=-1) > 60
        ys, xs = np.nonzero(mask)
        features.append([abs(xs.mean() - width / 2) / width, ys.mean() / frame.shape[0], mask.mean() * 10])
        colours.append(frame[mask].mean(axis=0) / 255)
    track = np.asarray(features)
    steps = np.linspace(0, len(track) - 1, 8).round().astype(int)
    return track[steps].ravel(), np.mean(colours, axis=0)


def nearest_centroid_accuracy(use_motion, use_colour, num_glosses=12):
    rng = np.random.default_rng(0)
    background = draw_background(64, 80, 150)
    def describe(gloss, flip):
        frames = render_gloss(gloss, int(rng.integers(8, 13)), background, rng)
        view, reference = (frames[:, :, ::-1], background[:, ::-1]) if flip else (frames, background)
        motion, colour = blob_track(view, reference)
        return np.concatenate([motion if use_motion else [], colour if use_colour else []])
    centroids = np.stack([np.mean([describe(g, False) for _ in range(4)], axis=0) for g in range(num_glosses)])
    hits = [np.argmin(((centroids - describe(g, True)) ** 2).sum(axis=1)) == g
            for g in range(num_glosses) for _ in range(4)]
    return np.mean(hits)


def test_glosses_are_separable_by_motion_and_colour_even_when_mirrored():
    assert nearest_centroid_accuracy(use_motion=True, use_colour=True) == 1.0


def test_colour_alone_is_not_enough():
    # 12 glosses over 3 colours: colour alone tells at most a third of them apart.
    assert len(COLOURS_RGB) == 3
    assert nearest_centroid_accuracy(use_motion=False, use_colour=True) < 0.5


def test_motion_alone_separates_glosses_of_one_colour():
    # glosses 0-5 share the first colour and differ only in their motion
    assert nearest_centroid_accuracy(use_motion=True, use_colour=False, num_glosses=6) == 1.0
