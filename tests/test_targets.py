"""Target kinds (issue 11): summation-to-delta, the profile targets against unit scores, output choice.

The changes each kind's contributions must sum to are computed here in
float64 from the model's own predictions (``model.predict``), independently of
the engine; the profile targets are checked against the scores of every unit
of the profile output weighted by hand.
"""
from __future__ import annotations

import keras
import numpy as np
import pytest

import seqlift
from seqlift.bench import zoo
from seqlift.model import from_keras

PROFILE_LENGTH = 16


@pytest.fixture(scope="module")
def chrombpnet_shaped():
    """A small ChromBPNet-shaped model: 250 bp in, a 16-position profile and a log count out."""
    return from_keras(zoo.chrombpnet_like(filters=4, dilated_layers=2, input_length=250,
                                          output_length=PROFILE_LENGTH, seed=3))


@pytest.fixture(scope="module")
def stranded():
    """A small BPNet-shaped model: a stranded (L, 2) profile and a (2,) count."""
    sequence = keras.Input((30, 4), name="seq")
    body = keras.layers.Conv1D(3, 5, activation="relu", name="body")(sequence)
    profile = keras.layers.Conv1D(2, 7, name="task_profile")(body)
    counts = keras.layers.Dense(2, name="task_counts")(keras.layers.GlobalAveragePooling1D()(body))
    model = keras.Model(sequence, [profile, counts])
    zoo.randomize(model, seed=4)
    return from_keras(model)


def _sequences(n: int, length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]
    return x, seqlift.dinucleotide_shuffle(x, 3, seed=seed).astype(np.float32)


def _softmax(a: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _profile_logits(model, x: np.ndarray, refs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Profile logits of the sequences ``(n, L)`` and of their references ``(n, S, L)``, float64."""
    lx = model.predict(x)[0].astype(np.float64)
    lr = model.predict(refs.reshape((-1,) + refs.shape[2:]))[0].astype(np.float64)
    return lx, lr.reshape(refs.shape[:2] + lx.shape[1:])


def _expected_changes(model, x, refs) -> dict[str, np.ndarray]:
    """What each kind's contributions sum to, per sequence (mean over its references), from the predictions."""
    lx, lr = _profile_logits(model, x, refs)
    counts_x = model.predict(x)[1].astype(np.float64).sum(-1)
    counts_r = model.predict(refs.reshape((-1,) + refs.shape[2:]))[1].astype(np.float64).sum(-1)
    wx, wr = _softmax(lx, -1)[:, None], _softmax(lr, -1)
    delta = lx[:, None] - lr
    centred = delta - delta.mean(-1, keepdims=True)

    def t_rescale(logits):
        c = logits - logits.mean(-1, keepdims=True)
        return (_softmax(c, -1) * c).sum(-1)

    return {
        "profile": (wx * centred).sum(-1).mean(1),
        "profile_chrombpnet": (0.5 * (wx + wr) * centred).sum(-1).mean(1),
        "profile_rescale": (t_rescale(lx)[:, None] - t_rescale(lr)).mean(1),
        "counts": (counts_x[:, None] - counts_r.reshape(refs.shape[:2])).mean(1),
    }


@pytest.mark.parametrize("method", ["rescale", "genomics_default", "revealcancel"])
def test_every_target_sums_to_its_change(chrombpnet_shaped, method):
    """Contributions sum to each kind's stated change (computed here from the predictions), for every rule."""
    x, refs = _sequences(3, 250)
    kinds = ["profile", "profile_chrombpnet", "profile_rescale", "counts"]
    result = seqlift.attribute(chrombpnet_shaped, x, refs, method=method, target=kinds)
    assert result.targets == kinds
    expected = _expected_changes(chrombpnet_shaped, x, refs)
    summed = result.contributions.sum(axis=(2, 3))
    for k, kind in enumerate(kinds):
        scale = np.abs(expected[kind]).max()
        np.testing.assert_allclose(result.target_deltas[k], expected[kind], atol=2e-6 * scale + 1e-7)
        np.testing.assert_allclose(summed[k], expected[kind], atol=2e-5 * scale + 1e-7)
        assert np.abs(result.deltas[k]).max() <= 2e-5 * scale + 1e-7


def test_profile_is_the_w_weighted_sum_of_unit_scores(chrombpnet_shaped):
    """``profile`` = Σ_j (w_j(x) − 1/J) × scores of unit j; ``profile_chrombpnet`` weights each pair by
    ½(w(x) + w(r)), ``profile_rescale`` by the centred secants of ``s(l̃) ⊙ l̃`` (all computed in float64 from
    the model's float32 logits)."""
    x, refs = _sequences(2, 250, seed=5)
    units = seqlift.attribute(chrombpnet_shaped, x, refs, method="rescale", output=0,
                              task=list(range(PROFILE_LENGTH)))
    profile = seqlift.attribute(chrombpnet_shaped, x, refs, method="rescale", target="profile")
    lx, lr = _profile_logits(chrombpnet_shaped, x, refs)
    weights = _softmax(lx, -1) - 1.0 / PROFILE_LENGTH  # (n, J)
    np.testing.assert_allclose(profile.hypothetical, np.einsum("nj,jnlb->nlb", weights, units.hypothetical),
                               atol=1e-5 * np.abs(profile.hypothetical).max())
    # one reference at a time: the pair's own weights
    one = refs[:, :1]
    units_one = seqlift.attribute(chrombpnet_shaped, x, one, method="rescale", output=0,
                                  task=list(range(PROFILE_LENGTH)))
    chrombpnet = seqlift.attribute(chrombpnet_shaped, x, one, method="rescale", target="profile_chrombpnet")
    pair_weights = 0.5 * (_softmax(lx, -1) + _softmax(lr[:, 0], -1)) - 1.0 / PROFILE_LENGTH
    np.testing.assert_allclose(chrombpnet.hypothetical,
                               np.einsum("nj,jnlb->nlb", pair_weights, units_one.hypothetical),
                               atol=1e-5 * np.abs(chrombpnet.hypothetical).max())
    # profile_rescale: the secants a_j = Δ(s_j l̃_j) / Δl̃_j, centred
    rescale = seqlift.attribute(chrombpnet_shaped, x, one, method="rescale", target="profile_rescale")
    cx = lx - lx.mean(-1, keepdims=True)
    cr = lr[:, 0] - lr[:, 0].mean(-1, keepdims=True)
    secants = (_softmax(cx, -1) * cx - _softmax(cr, -1) * cr) / (cx - cr)
    np.testing.assert_allclose(rescale.hypothetical,
                               np.einsum("nj,jnlb->nlb", secants - secants.mean(-1, keepdims=True),
                                         units_one.hypothetical),
                               atol=1e-5 * np.abs(rescale.hypothetical).max())


def test_gradient_of_the_profile_target_holds_the_sequences_weights(chrombpnet_shaped):
    x, refs = _sequences(2, 250, seed=6)
    gradient = seqlift.attribute(chrombpnet_shaped, x, refs, method="gradient", target="profile")
    units = seqlift.attribute(chrombpnet_shaped, x, refs, method="gradient", output=0,
                              task=list(range(PROFILE_LENGTH)))
    lx, _ = _profile_logits(chrombpnet_shaped, x, refs)
    weights = _softmax(lx, -1) - 1.0 / PROFILE_LENGTH
    np.testing.assert_allclose(gradient.hypothetical, np.einsum("nj,jnlb->nlb", weights, units.hypothetical),
                               atol=1e-5 * np.abs(gradient.hypothetical).max())


def test_stranded_profile_takes_one_softmax_over_both_strands(stranded):
    """On an (L, 2) output the softmax and the centring run jointly over all 2L units (basepairmodels' default,
    bpnet-lite), not per strand (the original BPNet's profile_contrib)."""
    x, refs = _sequences(2, 30, seed=7)
    length = 30 - 4 - 6
    units = seqlift.attribute(stranded, x, refs, method="rescale", output="task_profile",
                              task=list(range(2 * length)))
    profile = seqlift.attribute(stranded, x, refs, method="rescale", target="profile")
    lx = stranded.predict(x)[0].astype(np.float64)  # (n, L, 2)
    joint = _softmax(lx.reshape(len(x), -1), axis=1) - 1.0 / (2 * length)
    expected = np.einsum("nj,jnlb->nlb", joint, units.hypothetical)
    np.testing.assert_allclose(profile.hypothetical, expected, atol=1e-5 * np.abs(expected).max())
    per_strand = ((_softmax(lx, axis=1) - 1.0 / length) / 2).reshape(len(x), -1)
    assert np.abs(np.einsum("nj,jnlb->nlb", per_strand, units.hypothetical) - expected).max() > 1e-3 * np.abs(
        expected).max()  # a softmax per strand would differ
    assert np.abs(profile.deltas).max() < 1e-5


def test_several_outputs_need_a_choice(chrombpnet_shaped, stranded):
    x, refs = _sequences(1, 250)
    for model, names in ((chrombpnet_shaped, ["logits_profile_predictions", "logcount_predictions"]),
                         (stranded, ["task_profile", "task_counts"])):
        width = model.input_shapes[0][0]
        with pytest.raises(seqlift.SeqliftError, match="the model has 2 outputs") as caught:
            seqlift.attribute(model, x[:, :width], refs[:, :, :width], method="rescale")
        assert all(name in str(caught.value) for name in names)
    # named, by index, or by a preset that resolves on the outputs' sizes: the same counts scores
    by_name = seqlift.attribute(chrombpnet_shaped, x, refs, method="rescale", output="logcount_predictions")
    by_index = seqlift.attribute(chrombpnet_shaped, x, refs, method="rescale", target="sum@1")
    preset = seqlift.attribute(chrombpnet_shaped, x, refs, method="rescale", target="counts")
    np.testing.assert_array_equal(by_name.hypothetical, preset.hypothetical)
    np.testing.assert_array_equal(by_index.hypothetical, preset.hypothetical)
    assert preset.targets == ["counts"] and by_index.targets == ["sum_1"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(target="profile", task=3), "task= selects units of target='unit'"),
    (dict(target="profile@logcount_predictions"), r"needs a profile node of shape \(L,\) or \(L, C\)"),
    (dict(target="peaks"), "unknown target 'peaks'"),
    (dict(output="nope"), "'nope' is not an output of the model"),
    (dict(output=2), "output 2 is out of range"),
    (dict(target=["counts", "sum@logcount_predictions", "counts"]), "asks for counts more than once"),
    (dict(output=0, target_layer="average"), "give output= or target_layer=, not both"),
])
def test_bad_target_choices_are_refused_in_one_line(chrombpnet_shaped, kwargs, message):
    x, refs = _sequences(1, 250)
    with pytest.raises(seqlift.SeqliftError, match=message) as caught:
        seqlift.attribute(chrombpnet_shaped, x, refs, method="rescale", **kwargs)
    assert "\n" not in str(caught.value)
