"""What a long training run needs around the official training step: processes that agree on every step,
gradient accumulation, stopping cleanly on a scheduler's signal and resuming mid-epoch."""
