"""Training and validation clips as tensors: the per-epoch sampler (DDP shards), the clip
dataset (decoded per clip or from videos held in memory) and its loader."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ballspot.data.soccernet import HalfVideo
from ballspot.model.frames import StackIndexes
from ballspot.train.config import TrainConfig
from ballspot.train.sampling import (
    FrameIndexShaker,
    TrainSampler,
    ValidationSampler,
    annotation_sampling_weights,
)
from ballspot.train.targets import dense_targets, max_window_targets


class EpochSampler(Sampler):
    """Yields ``(epoch, index)`` keys so persistent workers see the epoch without shared state.

    Under DDP rank ``rank`` of ``world`` takes the indexes ``i % world == rank``: the ranks' shards
    are disjoint, their union is the single-process epoch, and each sample keeps its seed.
    """

    def __init__(self, size: int, rank: int = 0, world: int = 1) -> None:
        self.size = size
        self.rank, self.world = rank, world
        self.epoch = 0

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter((self.epoch, i) for i in range(self.rank, self.size, self.world))

    def __len__(self) -> int:
        return len(range(self.rank, self.size, self.world))


class ClipDataset(Dataset):
    """Clips of decoded uint8 frames (T, H, W) and their max-window targets (C,)."""

    def __init__(self, videos: Sequence[HalfVideo], classes: Sequence[str],
                 sampler: TrainSampler | ValidationSampler, window_size: int,
                 backend: str = "cpu", in_memory: bool = False) -> None:
        self.paths = [v.path for v in videos]
        self.dense = [dense_targets(v.annotations, classes, v.num_frames) for v in videos]
        self.sampler = sampler
        self.window_size = window_size
        self.backend = backend
        self._fetchers: dict[int, Any] = {}
        self._decoded: dict[int, np.ndarray] = {}
        if in_memory:
            from ballspot.data.video import open_fetcher

            for video, path in enumerate(self.paths):
                with open_fetcher(path, backend) as fetcher:
                    self._decoded[video] = np.stack([f for _, f in fetcher.iter_frames()])

    def __len__(self) -> int:
        return len(self.sampler)

    def __getstate__(self) -> dict[str, Any]:
        # Open decoders are per process: a worker opens its own (FFmpeg threads do not survive
        # being copied into another process).
        return {**self.__dict__, "_fetchers": {}}

    def __getitem__(self, key: tuple[int, int] | int) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(self.sampler, TrainSampler):
            video, indexes = self.sampler.sample(*key)
        else:
            video, indexes = self.sampler.sample(int(key))
        target = max_window_targets(self.dense[video], indexes, self.window_size)
        decoded = self._decoded.get(video)
        if decoded is not None:  # the same frames a fetcher decodes, without the seek
            return torch.from_numpy(decoded[indexes]), torch.from_numpy(target)
        fetcher = self._fetchers.get(video)
        if fetcher is None:
            from ballspot.data.video import open_fetcher

            fetcher = self._fetchers[video] = open_fetcher(self.paths[video], self.backend)
        frames = torch.from_numpy(fetcher.fetch_clip(indexes))
        return frames, torch.from_numpy(target)


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # decoding workers must not compete with the training threads


def build_loader(dataset: ClipDataset, batch_size: int, config: TrainConfig,
                  sampler: Sampler | Sequence[int] | None) -> DataLoader:
    workers = 0 if config.frames_in_memory else config.num_workers
    # spawn, not fork: a forked copy of a process that already runs torch and FFmpeg threads
    # can deadlock; the workers persist, so the start-up cost is paid once per run.
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, shuffle=False, num_workers=workers,
        worker_init_fn=_worker_init if workers else None, persistent_workers=workers > 0,
        multiprocessing_context="spawn" if workers else None,
        timeout=config.loader_timeout if workers else 0, drop_last=False,
    )


def train_clips(config: TrainConfig, stack: StackIndexes, classes: Sequence[str],
                videos: Sequence[HalfVideo], epoch_size: int, seed: int,
                predictions: Sequence[tuple[np.ndarray, np.ndarray] | None] | None = None,
                in_memory: bool = False) -> tuple[TrainSampler, ClipDataset]:
    """The seeded training clip sampler (action windows, hard negatives) and its dataset."""
    shaker = FrameIndexShaker(**config.shaker) if config.shaker else None
    predictions = predictions or [None] * len(videos)
    weights = [annotation_sampling_weights(v, config.action_window_size, config.action_prob,
                                           config.clear_pred_window_size, p,
                                           config.action_weights)
               for v, p in zip(videos, predictions, strict=True)]
    sampler = TrainSampler([v.num_frames for v in videos], weights, stack, shaker, seed,
                           epoch_size, config.video_choice)
    return sampler, ClipDataset(videos, classes, sampler, config.max_targets_window_size,
                                config.decode_backend, in_memory)
