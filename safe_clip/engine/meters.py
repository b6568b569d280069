"""Running averages for the training log line."""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Optional

import torch

__all__ = ["AverageMeter", "MetricMeter"]


def _as_number(value: Any) -> float:
    return value.item() if isinstance(value, torch.Tensor) else value


class AverageMeter:
    """Last value and running average (or exponential moving average with `ema=True`, weight 0.1)."""

    def __init__(self, ema: bool = False) -> None:
        self.ema = ema
        self.reset()

    def reset(self) -> None:
        self.val: float = 0
        self.avg: float = 0
        self.sum: float = 0
        self.count: int = 0

    def update(self, val: Any, n: int = 1) -> None:
        val = _as_number(val)
        self.val = val
        self.sum += val * n
        self.count += n
        self.avg = self.avg * 0.9 + val * 0.1 if self.ema else self.sum / self.count


class MetricMeter:
    """One AverageMeter per metric name; prints as `name val (avg)` pairs in insertion order."""

    def __init__(self, delimiter: str = " ") -> None:
        self.meters: defaultdict[str, AverageMeter] = defaultdict(AverageMeter)
        self.delimiter = delimiter

    def update(self, input_dict: Optional[dict[str, Any]]) -> None:
        if input_dict is None:
            return
        if not isinstance(input_dict, dict):
            raise TypeError("Input to MetricMeter.update() must be a dictionary")
        for name, value in input_dict.items():
            self.meters[name].update(_as_number(value))

    def __str__(self) -> str:
        return self.delimiter.join(
            f"{name} {meter.val:.4f} ({meter.avg:.4f})" for name, meter in self.meters.items()
        )
