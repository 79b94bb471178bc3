"""The registries the engine reads: methods, the forms of ops, and the activation table."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import seqlift
from seqlift.engine import METHODS, node_rules
from seqlift.engine.methods import Method, Scorer
from seqlift.errors import SeqliftError
from seqlift.model import SUPPORTED_ACTIVATIONS, Model, Node, ops
from seqlift.model.activations import ACTIVATIONS

ROOT = Path(__file__).resolve().parents[1]


class _Square(ops.Op):
    """An op no form is declared for: ``x²``."""

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return x * x


def _model_with(op: ops.Op) -> Model:
    rng = np.random.default_rng(0)
    nodes = {
        "x": Node("x", ops.Input((6, 4)), [], "x"),
        "flat": Node("flat", ops.Flatten(), ["x"], "flat"),
        "dense": Node("dense", ops.Dense(rng.normal(0, 1, (24, 2)), np.zeros(2)), ["flat"], "dense"),
        "odd": Node("odd", op, ["dense"], "odd"),
        "out": Node("out", ops.Dense(rng.normal(0, 1, (2, 1)), None), ["odd"], "out"),
    }
    return Model(nodes, ["x"], ["out"], [(6, 4)], name="odd")


def test_an_op_without_a_deeplift_rule_is_refused_naming_the_node():
    model = _model_with(_Square())
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(1).integers(0, 4, (2, 6))]
    with pytest.raises(SeqliftError, match=r"node 'odd' \(_Square\) has no DeepLIFT rule"):
        seqlift.attribute(model, x, 2, method="rescale")
    # the gradient methods need no rule: they differentiate the op
    result = seqlift.attribute(model, x, 2, method="grad_x_input")
    assert np.all(np.isfinite(result.contributions))


def test_every_form_of_op_has_a_rule_and_every_shipped_op_a_form():
    assert set(node_rules.RULES) == set(ops.Propagation)
    shipped = [getattr(ops, name) for name in ops.__all__]
    concrete = [c for c in shipped if isinstance(c, type) and issubclass(c, ops.Op) and c not in (ops.Op, ops.Linear)]
    assert concrete and all(c.propagation in node_rules.RULES for c in concrete), [
        c.__name__ for c in concrete if c.propagation not in node_rules.RULES
    ]


def test_every_method_in_the_registry_has_its_scorer_and_labels():
    from seqlift.engine import scorers

    model = _model_with(ops.Activation("tanh"))
    for name, method in METHODS.items():
        assert isinstance(method, Method) and method.name == name
        assert hasattr(scorers, method.scorer.name), name
        assert method.description and method.label and method.short
        assert method.copies(model) >= 1
    # in-silico mutagenesis costs the sequence's forward pass and 3 per position
    assert METHODS["ism"].copies(model) == 1 + 3 * 6


def test_a_method_registered_once_reaches_attribute(monkeypatch):
    """Adding a method is one registry entry: attribute, the batch size and the checks read it."""
    from seqlift.engine import methods

    monkeypatch.setitem(methods.METHODS, "plain_rescale", Method(
        name="plain_rescale", description="Rescale, registered again under another name", label="Rescale again",
        short="Rescale again", scorer=Scorer("DeepLiftScorer", {"nonlinearity": "rescale"}), batch_copies=8,
        deeplift=True))
    model = _model_with(ops.Activation("tanh"))
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(2).integers(0, 4, (3, 6))]
    again = seqlift.attribute(model, x, 3, method="plain_rescale", layers=["dense"])
    original = seqlift.attribute(model, x, 3, method="rescale", layers=["dense"])
    np.testing.assert_array_equal(again.contributions, original.contributions)
    np.testing.assert_array_equal(again.layers["dense"]["contributions"], original.layers["dense"]["contributions"])


def test_the_keras_activation_names_come_from_the_activation_table():
    for name, cls in ACTIVATIONS.items():
        assert cls.name == name
        assert set(cls.keras_names) <= set(SUPPORTED_ACTIVATIONS)
        assert name in ops.ACTIVATION_KINDS
    assert set(SUPPORTED_ACTIVATIONS) == {k for cls in ACTIVATIONS.values() for k in cls.keras_names} | {"linear", "softmax"}


def test_reading_the_method_registry_does_not_import_tensorflow():
    code = ("import sys; from seqlift.engine import METHODS; import seqlift.groundtruth.report, "
            "seqlift.groundtruth.methods; from seqlift.cli import build_parser; build_parser(); "
            "print(len(METHODS), 'tensorflow' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == [str(len(METHODS)), "False"]
