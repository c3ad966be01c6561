"""Static PNG plots: offline ``dvc plots show`` cannot load its chart library, these always work."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ballspot.core.atomic import atomic_path


def plot_training_curves(history: Sequence[Mapping[str, Any]], path: str | Path,
                         title: str = "") -> None:
    """Loss, LR and validation AP per epoch of one training run, as a PNG (written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for key in ("train_loss", "val_loss"):
        points = [(row["epoch"], row[key]) for row in history if key in row]
        if points:
            axes[0].plot(*zip(*points, strict=True), marker="o", label=key)
    axes[0].set_title("focal loss")
    axes[1].plot(epochs, [row["lr"] for row in history], marker="o")
    axes[1].set_title("learning rate (end of epoch)")
    for key in sorted({k for row in history for k in row if k.startswith("val_ap")}):
        points = [(row["epoch"], row[key]) for row in history if key in row]
        axes[2].plot(*zip(*points, strict=True), marker="o", label=key.removeprefix("val_"))
    axes[2].set_title("validation clip AP")
    axes[2].set_ylim(0, 1)
    for ax in axes:
        ax.set_xlabel("epoch")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
