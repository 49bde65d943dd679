"""The training sampler: DistributedSampler's shuffled share of each epoch, able to start an epoch part-way
through, so that a resumed run reads exactly the batches the interrupted one had not yet read."""
from __future__ import annotations

import itertools
from typing import Iterator

from torch.utils.data import DistributedSampler


class ResumableSampler(DistributedSampler):
    """A DistributedSampler (seeded shuffle per epoch, one share per process) whose current epoch can skip
    its first samples without reading them; `set_epoch` starts the next epoch from its beginning."""

    start = 0

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self.start = 0

    def start_at(self, samples: int) -> None:
        """Skip this process's first `samples` samples of the current epoch."""
        if not 0 <= samples <= super().__len__():
            raise ValueError(f"cannot start an epoch of {super().__len__()} samples at sample {samples}")
        self.start = samples

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(super().__iter__(), self.start, None)

    def __len__(self) -> int:
        return super().__len__() - self.start
