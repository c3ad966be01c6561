"""Multi-process (DDP) training helpers: one process per GPU, launched by ``torchrun``.

A run is distributed when ``torchrun`` started it (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` in the
environment) or when the caller already initialised a process group. Rank 0 is the *main* rank:
it alone writes files. Without either, every helper degrades to the single-process case.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

# Ranks wait for each other at barriers around rank 0's file writes; real epochs can be long.
TIMEOUT = timedelta(hours=2)


@dataclasses.dataclass(frozen=True)
class DistContext:
    """Where this process stands: ``rank`` of ``world`` processes, GPU ``local_rank``."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False  # this process initialised the group, so it destroys it

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def under_torchrun() -> bool:
    """Whether ``torchrun`` (``torch.distributed.run``) started this process."""
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


def resolve_backend(backend: str, device: torch.device) -> str:
    """``auto`` is NCCL for CUDA devices and gloo otherwise."""
    if backend == "auto":
        return "nccl" if device.type == "cuda" else "gloo"
    return backend


def setup(backend: str, device: torch.device) -> tuple[DistContext, torch.device]:
    """Join the process group of this launch; returns the context and this rank's device.

    A CUDA device becomes ``cuda:LOCAL_RANK``. Outside torchrun, and with no group already
    initialised, returns the single-process context and ``device`` unchanged.
    """
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    owns = False
    if not dist.is_initialized():
        if not under_torchrun() or int(os.environ["WORLD_SIZE"]) < 2:
            return DistContext(), device
        if device.type == "cuda":
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
        dist.init_process_group(resolve_backend(backend, device), timeout=TIMEOUT)
        owns = True
    elif device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    context = DistContext(dist.get_rank(), dist.get_world_size(), local_rank, owns)
    return context, device


def teardown(context: DistContext) -> None:
    """Destroy the process group if :func:`setup` created it (after every rank got here)."""
    if context.owns_group and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def barrier(context: DistContext) -> None:
    """Wait for every rank (no-op for a single process)."""
    if context.enabled:
        dist.barrier()


@torch.no_grad()
def broadcast_state(module: torch.nn.Module, context: DistContext, src: int = 0) -> None:
    """Overwrite every parameter and buffer with rank ``src``'s, in place."""
    if not context.enabled:
        return
    for tensor in module.state_dict().values():
        dist.broadcast(tensor, src)


def all_gather_objects(value: Any, context: DistContext) -> list[Any]:
    """Every rank's ``value`` (picklable), in rank order; ``[value]`` for a single process."""
    if not context.enabled:
        return [value]
    gathered: list[Any] = [None] * context.world
    dist.all_gather_object(gathered, value)
    return gathered


def relaunch_with_torchrun(nproc: int, argv: Sequence[str]) -> int:
    """Run ``python -m torch.distributed.run --standalone --nproc-per-node nproc <argv>``.

    ``argv`` is what follows the launcher options, e.g. ``["-m", "stages.train", "--fold", "0"]``.
    Returns the launcher's exit status; SIGTERM and Ctrl-C are passed on so no rank outlives us.
    """
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", str(int(nproc)), *argv]
    child = subprocess.Popen(command)

    def forward(signum: int, _: Any) -> None:
        child.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                # The terminal's Ctrl-C reaches torchrun too; wait for it to stop its workers.
                child.send_signal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if child.poll() is None:
            child.kill()
            child.wait()
