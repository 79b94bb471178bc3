"""A small ChromBPNet-shaped model trained on simulated base-resolution profiles, and the profile targets
compared on it.

Random weights say little about how far the three profile targets
(:mod:`seqlift.engine.targets`: ``profile``, ``profile_chrombpnet``,
``profile_rescale``) lie apart on a model people use, where the softmax
weights concentrate on a few positions. :func:`simulate_profiles` makes
read-count profiles in which two motifs leave footprints (two bumps ±12 bp
around the motif, a dip over it, the second motif twice as strong), and
:func:`train_profile_model` fits :func:`seqlift.bench.zoo.chrombpnet_like`
to them the way ChromBPNet is trained (multinomial negative log-likelihood of
the profile plus 10 times the squared error of the log total count; BPNet's
recommended weight, half the mean total count, would be larger, but the
counts head plays no part in the profile targets). :func:`compare_profile_targets` scores
held-out sequences with the three targets and measures their differences.
"""
from __future__ import annotations

from typing import Any

import numpy as np

#: the two motifs and their footprint strengths
MOTIFS = (("GATAAG", 1.0), ("CACGTG", 2.0))
#: geometry of the trained model: 846 bp in, 500 positions out (6 dilated layers)
INPUT_LENGTH, OUTPUT_LENGTH, DILATED_LAYERS, FILTERS = 846, 500, 6, 32


def _footprint(offsets: np.ndarray) -> np.ndarray:
    """Read density around a bound motif: bumps at ±12 bp, a dip over the motif."""
    return np.exp(-0.5 * ((np.abs(offsets) - 12) / 4.0) ** 2) - 0.6 * np.exp(-0.5 * (offsets / 3.0) ** 2)


def simulate_profiles(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` one-hot sequences ``(n, INPUT_LENGTH, 4)`` and their read counts ``(n, OUTPUT_LENGTH)``.

    Each sequence holds a Poisson(2) number of motif instances placed inside
    the profile window; the read rate is a flat background plus each
    instance's footprint times its strength, the total count Poisson with a
    mean growing with the instances' strengths, spread over positions
    multinomially.
    """
    rng = np.random.default_rng(seed)
    bases = rng.integers(0, 4, (n, INPUT_LENGTH))
    offset = (INPUT_LENGTH - OUTPUT_LENGTH) // 2
    positions = np.arange(OUTPUT_LENGTH)
    counts = np.zeros((n, OUTPUT_LENGTH), np.float32)
    lookup = {b: i for i, b in enumerate("ACGT")}
    for i in range(n):
        rate = np.full(OUTPUT_LENGTH, 0.05)
        strength = 0.0
        for _ in range(rng.poisson(2.0)):
            motif, weight = MOTIFS[rng.integers(len(MOTIFS))]
            start = int(rng.integers(20, OUTPUT_LENGTH - 20 - len(motif)))
            bases[i, offset + start:offset + start + len(motif)] = [lookup[b] for b in motif]
            rate += weight * np.clip(_footprint(positions - start - len(motif) / 2), 0.0, None)
            strength += weight
        total = rng.poisson(50.0 * (1.0 + strength))
        counts[i] = rng.multinomial(total, rate / rate.sum())
    return np.eye(4, dtype=np.float32)[bases], counts


def train_profile_model(n: int = 3000, epochs: int = 12, seed: int = 0) -> Any:
    """A :func:`~seqlift.bench.zoo.chrombpnet_like` model trained on :func:`simulate_profiles` (Keras 3).

    Returns the model and its validation losses (profile NLL per sequence, count MSE) after training,
    beside the profile NLL a uniform profile would have on the same sequences.
    """
    import keras
    from keras import ops as K

    from seqlift.bench.zoo import chrombpnet_like

    keras.utils.set_random_seed(seed)
    x, counts = simulate_profiles(n, seed)
    model = chrombpnet_like(filters=FILTERS, dilated_layers=DILATED_LAYERS, input_length=INPUT_LENGTH,
                            output_length=OUTPUT_LENGTH, seed=seed)
    for layer in model.layers:  # start from Keras' own initialisation, not the benchmark's random weights
        for variable in layer.weights:
            variable.assign(np.zeros(variable.shape, np.float32) if len(variable.shape) == 1 else
                            keras.initializers.GlorotUniform(seed=seed)(variable.shape))

    def multinomial_nll(true_counts, logits):
        return -K.sum(true_counts * K.log_softmax(logits, axis=-1), axis=-1)

    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=[multinomial_nll, "mse"], loss_weights=[1.0, 10.0])
    log_totals = np.log1p(counts.sum(axis=1, keepdims=True))
    history = model.fit(x, [counts, log_totals], batch_size=64, epochs=epochs, validation_split=0.1, verbose=0)
    losses = {key: float(values[-1]) for key, values in history.history.items() if key.startswith("val_")}
    held_out = counts[int(len(counts) * 0.9):]  # Keras' validation split: the last tenth
    losses["uniform profile NLL"] = float(held_out.sum(axis=1).mean() * np.log(OUTPUT_LENGTH))
    return model, losses


def compare_profile_targets(model: Any, n: int = 16, shuffles: int = 20, seed: int = 1) -> dict[str, Any]:
    """The three profile targets on ``n`` fresh simulated sequences: their differences and what they sum to.

    Returns, for each pair of targets, the relative L2 distance of the scores
    of the bases present (``‖a − b‖ / ‖b‖`` over all sequences and
    positions), the largest difference over the largest score, the median
    per-sequence Pearson correlation and the ratio of the norms
    ``‖a‖ / ‖b‖``; and for each target the mean of what its scores sum to.
    """
    import seqlift
    from seqlift.model import from_keras

    x, _ = simulate_profiles(n, seed=seed + 1000)
    kinds = ["profile", "profile_chrombpnet", "profile_rescale"]
    result = seqlift.attribute(from_keras(model), x, shuffles, method="rescale", target=kinds, seed=seed)
    projected = (result.hypothetical * x[None]).sum(-1)  # (targets, n, L)
    pairs = {}
    for i, a in enumerate(kinds):
        for j, b in enumerate(kinds):
            if i >= j:
                continue
            da, db = projected[i], projected[j]
            correlations = [np.corrcoef(da[k], db[k])[0, 1] for k in range(n)]
            pairs[f"{a} vs {b}"] = {
                "relative_l2": float(np.linalg.norm(da - db) / np.linalg.norm(db)),
                "max_over_largest": float(np.abs(da - db).max() / np.abs(db).max()),
                "median_correlation": float(np.median(correlations)),
                "norm_ratio": float(np.linalg.norm(da) / np.linalg.norm(db)),
            }
    sums = {kind: float(np.mean(result.target_deltas[k])) for k, kind in enumerate(kinds)}
    residuals = {kind: float(np.abs(result.deltas[k]).max()) for k, kind in enumerate(kinds)}
    return {"sequences": n, "shuffles": shuffles, "pairs": pairs, "mean_sums": sums, "max_residuals": residuals}


def run(quick: bool = False) -> None:
    """Train the model (smaller with ``quick``) and print how far the three profile targets lie apart."""
    n, epochs, sequences = (600, 3, 4) if quick else (3000, 12, 16)
    model, losses = train_profile_model(n=n, epochs=epochs)
    figures = compare_profile_targets(model, n=sequences)
    print(f"profile targets on a ChromBPNet-shaped model ({FILTERS} filters, {DILATED_LAYERS} dilated layers, "
          f"{INPUT_LENGTH} bp in, {OUTPUT_LENGTH} out) trained on {n} simulated footprint profiles for {epochs} "
          f"epochs (validation: " + ", ".join(f"{k} {v:.3g}" for k, v in losses.items()) + f"); "
          f"{figures['sequences']} held-out sequences x {figures['shuffles']} shuffles, Rescale, scores of the bases "
          "present")
    print(f"  {'pair a vs b':<42}{'relative L2':>12}{'max diff / largest':>20}{'median r':>10}{'|a| / |b|':>11}")
    for pair, row in figures["pairs"].items():
        print(f"  {pair:<42}{row['relative_l2']:>12.3f}{row['max_over_largest']:>20.3f}"
              f"{row['median_correlation']:>10.3f}{row['norm_ratio']:>11.3f}")
    print("  mean of what the scores sum to: " + ", ".join(
        f"{kind} {value:.4f}" for kind, value in figures["mean_sums"].items()))
    print("  largest summation-to-delta residual: " + ", ".join(
        f"{kind} {value:.1e}" for kind, value in figures["max_residuals"].items()))
