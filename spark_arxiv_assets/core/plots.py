"""Small PNG charts for Dagster metadata (rendered inline as markdown images)."""
from __future__ import annotations

import base64
import io


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def loss_curve(losses: list[tuple[int, float]], eval_loss: float | None) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    if losses:
        steps, values = zip(*losses)
        ax.plot(steps, values, marker="o", label="train loss")
    if eval_loss is not None:
        ax.axhline(eval_loss, color="tab:red", linestyle="--", label=f"eval loss {eval_loss:.3f}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    return f"![loss curve]({_png(fig)})"


def grouped_bars(table, metrics: list[str], label_column: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 3))
    width = 0.8 / len(metrics)
    x = np.arange(len(table))
    for i, metric in enumerate(metrics):
        ax.bar(x + i * width, table[metric].fillna(0), width, label=metric)
    ax.set_xticks(x + width * (len(metrics) - 1) / 2, table[label_column], rotation=15)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    return f"![evaluation]({_png(fig)})"
