"""Softmax cross-entropy and accuracy on integer labels."""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``z − logsumexp(z)`` per row, shifted by the row maximum for stability."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-sample loss ``L_n = −log softmax(z_n)[y_n]``, shape (N,)."""
    return -log_softmax(logits)[np.arange(len(labels)), labels]


def cross_entropy_grad(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``∂(mean_n L_n)/∂z = (softmax(z) − onehot(y)) / N``, shape (N, classes)."""
    p = np.exp(log_softmax(logits))
    p[np.arange(len(labels)), labels] -= 1.0
    return p / len(labels)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose largest logit is the label."""
    return float(np.mean(np.argmax(logits, axis=1) == labels))
