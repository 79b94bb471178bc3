"""The DeepLIFT paper's genomics model, trained on the simulation.

:func:`build_paper_model` builds the paper's architecture (Conv1D 50x11 ReLU,
Conv1D 50x11 ReLU, AveragePooling1D over the whole remaining length,
Flatten, Dense 50 ReLU, Dropout 0.5, Dense 3, sigmoid as a separate layer so
that the pre-sigmoid logits are the output of the last Dense layer).
:func:`train_paper_model` trains it with a fixed seed and early stopping on
the validation split; :func:`roc_auc` scores it without scikit-learn.

TensorFlow and Keras are imported inside the functions.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from seqlift.errors import SeqliftError


def roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Area under the ROC curve (the Mann-Whitney statistic, ties counted half).

    Parameters
    ----------
    y_true : numpy.ndarray
        (N,) binary labels.
    y_score : numpy.ndarray
        (N,) scores; higher means more likely positive.

    Returns
    -------
    float
        auROC in [0, 1]; NaN when only one class is present.
    """
    y_true = np.asarray(y_true).astype(bool).reshape(-1)
    y_score = np.asarray(y_score, dtype=np.float64).reshape(-1)
    if y_true.shape != y_score.shape:
        raise SeqliftError(f"roc_auc: {y_true.size} labels but {y_score.size} scores")
    n_pos = int(y_true.sum())
    n_neg = y_true.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(y_score, kind="mergesort")
    sorted_scores = y_score[order]
    ranks = np.empty(y_score.size, dtype=np.float64)
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def build_paper_model(
    length: int = 200,
    n_tasks: int = 3,
    filters: int = 50,
    width: int = 11,
    hidden: int = 50,
    dropout: float = 0.5,
) -> Any:
    """The paper's architecture as a Keras 3 Sequential model.

    Parameters
    ----------
    length : int
        Input length in bp; the input is (length, 4) one-hot A, C, G, T.
    n_tasks : int
        Number of sigmoid outputs.
    filters, width : int
        Filters and width of both convolutions.
    hidden : int
        Units of the hidden dense layer.
    dropout : float
        Dropout rate after the hidden dense layer.

    Returns
    -------
    keras.Sequential
        Uncompiled; 32,503 parameters with the defaults.
    """
    import keras
    from keras import layers

    pooled = length - 2 * (width - 1)
    if pooled < 1:
        raise SeqliftError(f"length {length} is too short for two convolutions of width {width}")
    return keras.Sequential(
        [
            keras.Input((length, 4)),
            layers.Conv1D(filters, width, padding="valid", name="conv1d_1"),
            layers.Activation("relu", name="activation_1"),
            layers.Conv1D(filters, width, padding="valid", name="conv1d_2"),
            layers.Activation("relu", name="activation_2"),
            layers.AveragePooling1D(pool_size=pooled, name="average_pooling1d_1"),
            layers.Flatten(name="flatten_1"),
            layers.Dense(hidden, name="dense_1"),
            layers.Activation("relu", name="activation_3"),
            layers.Dropout(dropout, name="dropout_1"),
            layers.Dense(n_tasks, name="dense_2"),
            layers.Activation("sigmoid", name="activation_4"),
        ],
        name="seqlift_paper_model",
    )


@dataclass
class TrainResult:
    """What :func:`train_paper_model` returns.

    Attributes
    ----------
    model : keras.Model
        The trained model, with the weights of the best validation epoch.
    epochs : int
        Epochs run (including the patience epochs after the best one).
    best_epoch : int
        1-based epoch whose weights were kept.
    seconds : float
        Wall-clock training time.
    history : dict
        Keras history (loss and val_loss per epoch).
    """

    model: Any
    epochs: int
    best_epoch: int
    seconds: float
    history: dict = field(default_factory=dict)


def set_determinism(seed: int, op_determinism: bool = True) -> None:
    """Seed Python, NumPy and TensorFlow; optionally ask TensorFlow for deterministic ops.

    ``op_determinism`` calls ``tf.config.experimental.enable_op_determinism()``,
    which lasts for the rest of the process (ops without a deterministic
    implementation then raise).
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    if not op_determinism:
        return
    try:
        tf.config.experimental.enable_op_determinism()
    except (AttributeError, RuntimeError):  # older TF, or already initialised
        pass


def train_paper_model(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    epochs: int = 100,
    batch_size: int = 128,
    patience: int = 8,
    learning_rate: float = 1e-3,
    seed: int = 0,
    verbose: int = 0,
    op_determinism: bool = True,
) -> TrainResult:
    """Train the paper's model with Adam, binary cross-entropy and early stopping.

    Parameters
    ----------
    x_train, x_valid : numpy.ndarray
        (N, L, 4) one-hot sequences.
    y_train, y_valid : numpy.ndarray
        (N, T) binary labels.
    epochs : int
        Most epochs to run.
    batch_size : int
        Mini-batch size.
    patience : int
        Epochs without a lower validation loss before stopping; the best
        epoch's weights are restored.
    learning_rate : float
        Adam's learning rate.
    seed : int
        Seed for initialisation, shuffling and dropout.
    verbose : int
        Keras ``fit`` verbosity.
    op_determinism : bool
        Enable TensorFlow's deterministic ops for the rest of the process
        (see :func:`set_determinism`), so that the same seed gives the same
        model on the same machine.

    Returns
    -------
    TrainResult
    """
    import keras

    if x_train.ndim != 3 or x_train.shape[2] != 4:
        raise SeqliftError(f"training data must be (N, L, 4) one-hot, got {x_train.shape}")
    set_determinism(seed, op_determinism)
    model = build_paper_model(length=x_train.shape[1], n_tasks=y_train.shape[1])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy")
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    start = time.perf_counter()
    hist = model.fit(
        x_train,
        y_train.astype(np.float32),
        validation_data=(x_valid, y_valid.astype(np.float32)),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        callbacks=[stop],
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    val = history.get("val_loss", [])
    best = int(np.argmin(val)) + 1 if val else len(history.get("loss", []))
    return TrainResult(model, len(history.get("loss", [])), best, seconds, history)


def task_aurocs(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> list[float]:
    """auROC of each task of a Keras model on (x, y)."""
    pred = np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
    return [roc_auc(y[:, t], pred[:, t]) for t in range(y.shape[1])]


def save_model_h5(model: Any, path: str | os.PathLike) -> None:
    """Save a Keras model as a legacy HDF5 file without optimizer state (small)."""
    path = os.fspath(path)
    if not path.endswith(".h5"):
        raise SeqliftError(f"model path {path} must end in .h5")
    model.save(path, include_optimizer=False)


def describe_tasks(names: Sequence[str]) -> list[str]:
    """Human names of the three tasks for two motif names."""
    first, second = names
    return [f"task 0 ({first} and {second})", f"task 1 ({first})", f"task 2 ({second})"]
