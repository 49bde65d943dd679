"""The method's output stage: CTC logits to gloss sequences (greedy, the official prefix beam search, or
flashlight with a language model)."""
