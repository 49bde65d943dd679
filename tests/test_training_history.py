from evaluation.training_history import TrainingHistory


def scores(dev: float | None) -> dict:
    return {} if dev is None else {"dev": {"wer": dev, "conv_wer": dev + 1}, "test": {"wer": 0.0, "conv_wer": 0.0}}


def test_the_best_epoch_is_the_first_with_the_lowest_dev_wer():
    """best_model.pt follows this rule: the test WER never chooses, unevaluated epochs never count,
    and a later tie keeps the earlier epoch."""
    history = TrainingHistory()
    for epoch, dev in enumerate([None, 40.0, None, 35.5, 35.5, 50.0]):
        history.add(epoch, lr=1e-4, loss=1.0, parts={}, wer=scores(dev))
    assert (history.best_epoch, history.best_wer) == (3, 35.5)


def test_no_dev_split_means_no_best_epoch():
    history = TrainingHistory()
    history.add(0, lr=1e-4, loss=1.0, parts={}, wer={"test": {"wer": 10.0, "conv_wer": 10.0}})
    assert history.best_epoch is None and history.best_wer is None


def test_a_history_survives_a_round_trip_through_its_checkpoint_form():
    history = TrainingHistory()
    history.add(0, lr=1e-4, loss=2.5, parts={"SeqCTC": 1.5}, wer=scores(30.0), skipped=1, seconds=4.0)
    copy = TrainingHistory.from_dict(history.to_dict())
    assert copy == history and copy.epochs[0]["train_seconds"] == 4.0 and copy.epochs[0]["skipped"] == 1


def evaluated(ratio: float) -> dict:
    return {"dev": {"wer": 100.0, "conv_wer": 100.0, "length_ratio": ratio, "blank_share": 1.0}}


def test_a_run_is_judged_once_at_the_first_evaluation_after_enough_steps():
    """Judged at the first evaluation that is the second or later and comes after `after_steps` steps; stuck when
    every evaluation so far decoded nearly nothing; never again afterwards, evaluated or not."""
    history = TrainingHistory()
    history.add(0, lr=1e-4, loss=9.0, parts={}, wer=evaluated(0.0), steps=100)
    assert not history.looks_stuck(150)  # one evaluation: CTC models start with blanks
    history.add(1, lr=1e-4, loss=8.0, parts={}, wer=evaluated(0.0), steps=40)
    assert not history.looks_stuck(150)  # the second evaluation, but only 140 steps
    history.add(2, lr=1e-4, loss=7.5, parts={}, wer={}, steps=40)
    assert not history.looks_stuck(150)  # not evaluated
    history.add(3, lr=1e-4, loss=7.0, parts={}, wer=evaluated(0.09), steps=40)
    assert history.looks_stuck(150) and not history.looks_stuck(0)  # 0: never judged
    history.add(4, lr=1e-4, loss=6.5, parts={}, wer={}, steps=40)
    assert not history.looks_stuck(150)  # said once, and only at an evaluation
    history.add(5, lr=1e-4, loss=6.0, parts={}, wer=evaluated(0.0), steps=40)
    assert not history.looks_stuck(150)


def test_a_run_with_glosses_at_any_evaluation_is_not_stuck():
    for first, second in ((0.0, 0.1), (0.5, 0.0)):
        history = TrainingHistory()
        history.add(0, lr=1e-4, loss=9.0, parts={}, wer=evaluated(first), steps=10)
        history.add(1, lr=1e-4, loss=8.0, parts={}, wer=evaluated(second), steps=10)
        assert not history.looks_stuck(1), (first, second)


def test_training_curves_say_what_they_plot_over_the_whole_run():
    from evaluation.training_curves import training_curves_figure

    history = TrainingHistory()
    for epoch in range(6):
        history.add(epoch, lr=1e-4, loss=10.0 - epoch, parts={"SeqCTC": 2.0, "Dist": 0.1},
                    wer=scores(40.0 - epoch) if epoch in (3, 5) else {})
    loss, rate = training_curves_figure(history).axes
    assert [line.get_label() for line in loss.get_lines()] == [
        "total (weighted sum)", "Dist (before its weight)", "SeqCTC (before its weight)"]
    labels = {line.get_label(): line for line in rate.get_lines()}
    assert set(labels) == {"dev WER", "dev conv WER", "test WER", "test conv WER"}
    assert list(labels["dev conv WER"].get_ydata()) == [38.0, 36.0] and labels["dev conv WER"].get_linestyle() == "--"
    assert rate.get_xlim() == loss.get_xlim() == (-0.5, 5.5)  # the WER panel starts at the first epoch too
    assert loss.get_legend().get_texts()[0].get_fontsize() >= 9
