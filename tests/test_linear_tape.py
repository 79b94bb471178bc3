"""The linear tape's transpose (seqlift/engine/linear_tape.py), against TensorFlow's gradient of the same
map and against the adjoint identity <m, L v> = <Lᵀ m, v> in float64."""
import numpy as np
import pytest
import tensorflow as tf

from seqlift.engine.linear_tape import LinearTape
from seqlift.model import invariant


class _Tensors:
    """The map's kernel and split applied to tensors (the same kernel seqlift's layers use)."""

    kernel = staticmethod(invariant.matmul)

    @staticmethod
    def split(v, parts):
        return tf.split(v, parts, axis=-1)


def _cell_like_map(linear, a, b, coefficient, kernel):
    """A linear map of (a, b) made of every operation a tape records (one split block left unused)."""
    summed = a * coefficient + 0.5 * b
    first, second, unused = linear.split(summed, 3)
    projected = linear.kernel(first - (-second), kernel)
    return [projected * coefficient[..., :4] + projected, -(first - second)], unused


def _random(dtype, seed=0):
    rng = np.random.default_rng(seed)
    a, b = (tf.constant(rng.normal(size=(3, 5, 6)), dtype) for _ in range(2))
    coefficient = tf.constant(rng.normal(size=(5, 6)), dtype)  # broadcast over the leading (targets) axis
    kernel = tf.constant(rng.normal(size=(2, 4)), dtype)
    multipliers = [tf.constant(rng.normal(size=(3, 5, 4)), dtype), tf.constant(rng.normal(size=(3, 5, 2)), dtype)]
    return a, b, coefficient, kernel, multipliers


def _tape_transpose(a_shape, coefficient, kernel, multipliers):
    tape = LinearTape()
    a, b = tape.input(), tape.input()
    outputs, _ = _cell_like_map(tape, a, b, coefficient, kernel)
    return tape.transpose(outputs, multipliers, [a, b])


def test_transpose_equals_tensorflows_gradient_of_the_same_map():
    a, b, coefficient, kernel, multipliers = _random(tf.float32)
    with tf.GradientTape() as gradient_tape:
        gradient_tape.watch([a, b])
        outputs, _ = _cell_like_map(_Tensors, a, b, coefficient, kernel)
    expected = gradient_tape.gradient(outputs, [a, b], output_gradients=multipliers)
    transposed = _tape_transpose(a.shape, coefficient, kernel, multipliers)
    for got, want in zip(transposed, expected):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6)
        assert got.shape == want.shape


def test_transpose_is_the_adjoint_in_float64():
    a, b, coefficient, kernel, multipliers = _random(tf.float64, seed=1)
    outputs, _ = _cell_like_map(_Tensors, a, b, coefficient, kernel)
    m_a, m_b = _tape_transpose(a.shape, coefficient, kernel, multipliers)
    forward = sum(float(tf.reduce_sum(m * y)) for m, y in zip(multipliers, outputs))
    backward = float(tf.reduce_sum(m_a * a) + tf.reduce_sum(m_b * b))
    assert backward == pytest.approx(forward, rel=1e-12)


def test_an_input_the_outputs_do_not_depend_on_has_no_multiplier():
    tape = LinearTape()
    a, b = tape.input(), tape.input()
    m = tf.ones((2, 3))
    m_a, m_b = tape.transpose([a * 2.0], [m], [a, b])
    np.testing.assert_array_equal(m_a.numpy(), np.full((2, 3), 2.0))
    assert m_b is None


def test_a_product_of_two_values_is_refused_as_not_linear():
    tape = LinearTape()
    a, b = tape.input(), tape.input()
    with pytest.raises(TypeError, match="coefficients only"):
        a * b
    with pytest.raises(TypeError, match="its own values"):
        a + LinearTape().input()
