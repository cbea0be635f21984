"""The loss curve of a run, drawn from Lightning's ``metrics.csv`` files with matplotlib.

A run logs each (re)start into its own ``logs/session_NNN/metrics.csv``. :func:`read_run_metrics`
merges them by step: a later session starts at the step after its check-point, so its rows replace
the earlier session's rows from that step on (the steps a killed run did after its last
check-point were redone, and only the redone ones count).

Left axis: ``train/loss`` by step (each logged value, and its running mean over 20 logs), and
``val/loss`` when the run validated; right axis: ``val/psnr`` in dB.
"""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["plot_training_curves", "read_metrics", "read_run_metrics"]

_SMOOTHING = 20


def read_metrics(metrics_csv: str | Path) -> dict[str, list[tuple[int, float]]]:
    """``{column: [(step, value), ...]}`` of every non-empty cell of ``metrics.csv`` (in file order).

    Lightning's ``step`` column counts the steps done *before* the one logged (0 for the first); ``step``
    here is the number of steps done once it ended (1 for the first), as in check-point names.
    """
    series: dict[str, list[tuple[int, float]]] = {}
    with Path(metrics_csv).open(newline="") as stream:
        for row in csv.DictReader(stream):
            step = int(float(row["step"])) + 1 if row.get("step") else None
            for column, cell in row.items():
                if column not in ("step", "epoch") and cell and step is not None:
                    series.setdefault(column, []).append((step, float(cell)))
    return series


def read_run_metrics(logs: str | Path) -> dict[str, list[tuple[int, float]]]:
    """The merged ``{column: [(step, value), ...]}`` of every ``session_*/metrics.csv`` under ``logs``."""
    merged: dict[str, list[tuple[int, float]]] = {}
    for metrics_csv in sorted(Path(logs).glob("session_*/metrics.csv")):
        session = read_metrics(metrics_csv)
        steps = [step for values in session.values() for step, _ in values]
        if not steps:
            continue
        start = min(steps)
        for column in merged:
            merged[column] = [(step, value) for step, value in merged[column] if step < start]
        for column, values in session.items():
            merged.setdefault(column, []).extend(values)
    return merged


def _running_mean(values: list[float]) -> list[float]:
    return [sum(values[max(0, i - _SMOOTHING + 1):i + 1]) / (i + 1 - max(0, i - _SMOOTHING + 1))
            for i in range(len(values))]


def plot_training_curves(logs: str | Path | dict, out_png: str | Path,
                         loss_label: str = "training loss") -> Path | None:
    """Draw the merged curves of the run's ``logs`` folder (or :func:`read_run_metrics` output already read) into
    ``out_png``: ``train/loss`` (labelled ``loss_label``) and ``val/loss``; on a second axis ``val/psnr``, or else
    ``train/reconstruction`` (Infinite Nature's L1) when logged. None (nothing written) when it logged no loss yet."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = logs if isinstance(logs, dict) else read_run_metrics(logs)
    if not series.get("train/loss"):
        return None
    figure, loss_axis = plt.subplots(figsize=(8, 4.5), dpi=100)
    steps, losses = zip(*series["train/loss"])
    loss_axis.plot(steps, losses, color="0.75", linewidth=0.8, label="train loss")
    loss_axis.plot(steps, _running_mean(list(losses)), color="C0", label=f"train loss (mean of {_SMOOTHING})")
    if series.get("val/loss"):
        loss_axis.plot(*zip(*series["val/loss"]), "o-", color="C1", label="val loss")
    loss_axis.set_xlabel("step")
    loss_axis.set_ylabel(loss_label)
    handles, labels = loss_axis.get_legend_handles_labels()
    second = _second_axis(loss_axis, series)
    if second is not None:
        more_handles, more_labels = second.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    loss_axis.legend(handles, labels, loc="upper right")
    figure.tight_layout()
    from viewgen.io.images import save_atomic

    out_png = save_atomic(out_png, lambda stream: figure.savefig(stream, format="png"), suffix=".png")
    plt.close(figure)
    return out_png


def _second_axis(loss_axis, series: dict):
    """A twin axis with the validation PSNR, else the running mean of the reconstruction L1; None when neither."""
    if series.get("val/psnr"):
        axis = loss_axis.twinx()
        axis.plot(*zip(*series["val/psnr"]), "s--", color="C2", label="val PSNR (dB)")
        axis.set_ylabel("PSNR (dB)")
        return axis
    if series.get("train/reconstruction"):
        axis = loss_axis.twinx()
        steps, values = zip(*series["train/reconstruction"])
        axis.plot(steps, _running_mean(list(values)), color="C3", label=f"reconstruction L1 (mean of {_SMOOTHING})")
        axis.set_ylabel("reconstruction L1")
        return axis
    return None
