"""utils/progress.py: a bar on a terminal, a plain line every tenth of the work in a log."""
import sys

from tqdm import tqdm

from utils.progress import PlainProgress, progress


def test_off_a_terminal_a_line_every_tenth_of_the_work(capsys):
    assert list(progress(range(20), desc="frames")) == list(range(20))
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == [f"frames: {n}/20 ({5 * n}%)" for n in range(2, 21, 2)]


def test_updates_and_postfix_as_the_training_loop_uses_them(capsys):
    bar = progress(total=3, desc="epoch 0")
    for step in range(3):
        bar.update(1)
        bar.set_postfix(loss=f"{1.0 / (step + 1):.3f}")
    bar.close()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch 0: 1/3 (33%), ")
    assert lines[-1].startswith("epoch 0: 3/3 (100%), ") and lines[-1].endswith(", loss=0.500")  # postfix of step 1


def test_a_terminal_gets_tqdm_and_disabled_prints_nothing(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    bar = progress(range(3), desc="x")
    assert isinstance(bar, tqdm) and not isinstance(bar, PlainProgress)
    bar.close()
    capsys.readouterr()
    assert list(progress(range(3), desc="x", disable=True)) == [0, 1, 2]
    assert capsys.readouterr().out == ""
