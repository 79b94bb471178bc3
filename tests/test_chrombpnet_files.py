"""Model files written by chrombpnet's own model code (tf.keras 2.x ``.h5``): what seqlift reads.

The files come from :mod:`chrombpnet_files`, which runs chrombpnet's model
builders in a tf-keras subprocess and keeps tf.keras's predictions beside
each file; the forward passes here are compared with those.
"""
from __future__ import annotations

import json

import chrombpnet_files
import h5py
import numpy as np
import pytest

import seqlift

MISSING = chrombpnet_files.missing_packages()
pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"{', '.join(MISSING)} not installed (`make test` installs them; see the Makefile)")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return chrombpnet_files.build(tmp_path_factory.mktemp("chrombpnet"))


def _keras_predictions(path):
    saved = np.load(path.with_suffix(".npz"))
    outputs = [saved[f"output_{i}"] for i in range(len(saved["output_names"]))]
    return saved["x"], list(saved["output_names"]), outputs


def test_the_files_are_chrombpnets(files):
    """The files carry what makes them ChromBPNet's: the loss name, the nesting, the Lambda."""
    with h5py.File(files["chrombpnet"], "r") as handle:
        config = json.loads(handle.attrs["model_config"])
        losses = json.loads(handle.attrs["training_config"])["loss"]
    layers = {layer["name"]: layer["class_name"] for layer in config["config"]["layers"]}
    assert losses == ["multinomial_nll", "mse"]
    assert layers["model_wo_bias"] == "Functional"
    assert layers["logcount_predictions"] == "Lambda"
    assert list(layers.values()).count("Functional") == 2  # the bias model nested beside model_wo_bias
    with h5py.File(files["bias"], "r") as handle:
        assert json.loads(handle.attrs["training_config"])["loss"] == ["multinomial_nll", "mse"]


@pytest.mark.parametrize("name", ["bias", "chrombpnet_nobias"])
def test_bias_and_nobias_models_load_and_predict_like_tf_keras(files, name):
    x, names, expected = _keras_predictions(files[name])
    model = seqlift.load_model(files[name])
    assert model.outputs == names
    assert model.input_shapes == [(chrombpnet_files.CHROMBPNET_INPUT, 4)]
    got = model.predict(x)
    assert [g.shape for g in got] == [(len(x), chrombpnet_files.CHROMBPNET_OUTPUT), (len(x), 1)]
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, atol=1e-5, rtol=1e-5)


#: what the files' Lambda layers compute: ChromBPNet's joined counts, BPNet's output names
LAMBDAS = {"chrombpnet": {"logcount_predictions": "logsumexp"},
           "bpnet": {"*/profile": "identity", "*/counts": "identity"}}


@pytest.mark.parametrize("name", ["chrombpnet", "bpnet"])
def test_lambda_models_load_with_declarations_and_predict_like_tf_keras(files, name):
    """The full ChromBPNet (bias and accessibility models nested, counts joined by a logsumexp Lambda) and
    BPNet (Conv2DTranspose profile heads, identity Lambdas naming the outputs)."""
    x, names, expected = _keras_predictions(files[name])
    with pytest.raises(seqlift.SeqliftError, match=r"\(Lambda, layer \d+ of \d+ in model .*--lambda .*=KIND"):
        seqlift.load_model(files[name])
    model = seqlift.load_model(files[name], lambdas=LAMBDAS[name])
    assert model.outputs == names
    got = model.predict(x)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, atol=1e-5, rtol=1e-5)


def test_both_targets_through_the_full_model_sum_to_their_change(files):
    """Counts through the logsumexp Lambda and the profile through the added profiles: summation-to-delta."""
    x, _, _ = _keras_predictions(files["chrombpnet"])
    model = seqlift.load_model(files["chrombpnet"], lambdas=LAMBDAS["chrombpnet"])
    result = seqlift.attribute(model, x[:2], 3, method="rescale", target=["profile", "counts"])
    assert result.targets == ["profile", "counts"]
    assert np.abs(result.deltas).max() <= 1e-5 * np.abs(result.target_deltas).max()
    counts = model.predict(x[:2])[1][:, 0]
    refs = seqlift.dinucleotide_shuffle(x[:2], 3, seed=0)
    ref_counts = model.predict(refs.reshape((-1,) + refs.shape[2:]))[1][:, 0].reshape(2, 3)
    np.testing.assert_allclose(result.target_deltas[1], (counts[:, None] - ref_counts).mean(1), atol=1e-5)


def test_score_takes_the_declarations_on_the_command_line(files, tmp_path):
    """``seqlift score --lambda``: refused without it (naming the layer and the option), both heads with it."""
    from test_score_cli import assert_failed_cleanly
    from test_score_cli import seqlift as seqlift_cli

    x, _, _ = _keras_predictions(files["chrombpnet"])
    names = seqlift.decode(x[:2])
    (tmp_path / "seqs.fa").write_text("".join(f">s{i}\n{seq}\n" for i, seq in enumerate(names)))
    common = ("score", tmp_path / "seqs.fa", "--model", files["chrombpnet"], "--target", "profile,counts",
              "--shuffles", "2", "--method", "rescale")
    refused = seqlift_cli(*common, "--out", tmp_path / "no" / "run", cwd=tmp_path)
    assert_failed_cleanly(refused, "--lambda logcount_predictions=KIND", tmp_path / "no")
    done = seqlift_cli(*common, "--lambda", "logcount_predictions=logsumexp", "--out", tmp_path / "run",
                       cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with h5py.File(tmp_path / "run.h5") as store:
        assert list(store["targets"].asstr()[()]) == ["profile", "counts"]
        assert json.loads(store.attrs["parameters"])["lambdas"] == {"logcount_predictions": "logsumexp"}
        assert np.abs(store["deltas"][()]).max() < 1e-5
