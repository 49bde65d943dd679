"""RNG states: our layout, the official checkpoint's (`random` for Python's generator) and the earlier `python` key."""
import random

import numpy as np
import torch

from utils.random_state import get_rng_state, set_rng_state


def draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_saved_state_replays_the_same_draws_in_every_layout():
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    state = get_rng_state()
    assert {"torch", "numpy", "random"} <= set(state)
    expected = draws()
    official = {"torch": state["torch"], "cuda": [], "numpy": state["numpy"], "random": state["random"]}
    earlier = {"torch": state["torch"], "numpy": state["numpy"], "python": state["random"]}
    for layout in (state, official, earlier):
        random.seed(7), np.random.seed(7), torch.manual_seed(7)
        assert set_rng_state(layout) == ""
        assert draws() == expected


def test_cuda_states_for_another_gpu_count_are_left_alone_with_a_note():
    state = dict(get_rng_state(), cuda=[torch.zeros(16, dtype=torch.uint8)] * 3)
    note = set_rng_state(state)
    assert "3 GPU(s) not restored" in note
