"""Tasks: what is learnt (recognition, translation, or both) as the trainer (training/trainer.py) sees it: the
data, the model, one step's loss, the evaluation and the metric the best checkpoint is chosen by."""
