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
