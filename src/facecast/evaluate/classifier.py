"""The compact classifier: a softmax (or one-hidden-layer) network trained from scratch with torch on the CPU.

Full-batch Adam on standardised descriptors, class-weighted cross-entropy
(each label weighs the same however many frames it has, as macro-F1 does),
seeded: the same data and seed give the same model and predictions.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from facecast.params import EvaluateParams


class Classifier:
    def __init__(self, net: nn.Module, mean: np.ndarray, scale: np.ndarray):
        self.net, self.mean, self.scale = net, mean, scale

    def predict(self, features: np.ndarray) -> np.ndarray:
        """The most likely class index of each row."""
        if not len(features):
            return np.zeros(0, np.int64)
        x = torch.from_numpy(((features - self.mean) / self.scale).astype(np.float32))
        with torch.no_grad():
            return self.net(x).argmax(dim=1).numpy()


def _net(inputs: int, classes: int, hidden: int) -> nn.Module:
    if not hidden:
        return nn.Linear(inputs, classes)
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Dropout(0.3), nn.Linear(hidden, classes))


def fit(features: np.ndarray, targets: np.ndarray, classes: int, params: EvaluateParams, seed: int) -> Classifier:
    """Train on ``features`` (n, d) with class indices ``targets`` (n,) in 0..classes-1."""
    if not len(features):
        raise ValueError("nothing to train on")
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    torch.manual_seed(seed)
    net = _net(features.shape[1], classes, params.hidden)
    x = torch.from_numpy(((features - mean) / scale).astype(np.float32))
    y = torch.from_numpy(targets.astype(np.int64))
    counts = np.bincount(targets, minlength=classes).astype(np.float32)
    weights = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max(1, (counts > 0).sum()), 0.0)
    loss_fn = nn.CrossEntropyLoss(weight=torch.from_numpy(weights.astype(np.float32)))
    optimiser = torch.optim.Adam(net.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay)
    net.train()
    with torch.enable_grad():  # a process that loaded the detectors (models.loaders) has gradients off
        for _ in range(params.epochs):
            optimiser.zero_grad()
            loss_fn(net(x), y).backward()
            optimiser.step()
    net.eval()
    return Classifier(net, mean, scale)
