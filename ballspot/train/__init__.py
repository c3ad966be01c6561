"""Train: the training loop and everything it draws on (clip sampling, dense targets,
augmentations, optimiser, LR schedule and EMA, DDP, resumable checkpoints, per-epoch validation
and its curves). Takes plain values (``TrainConfig``, videos, classes), not the params file.
May import ``core``, ``data`` and ``model``.
"""
