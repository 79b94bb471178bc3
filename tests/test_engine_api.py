"""``seqlift.attribute``: targets, tasks, batching, the comparison methods, and bad input."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers
from model_zoo import functional_two_inputs, randomize, sequential

import seqlift
from seqlift.engine import METHODS, rules
from seqlift.errors import SeqliftError
from seqlift.model import derived, from_keras, invariant, ops


def _dna(n: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]


@pytest.fixture(scope="module")
def cnn():
    keras_model = sequential(
        (24, 4),
        layers.Conv1D(6, 5, activation="relu", name="conv"),
        layers.MaxPooling1D(2, name="pool"),
        layers.Flatten(name="flat"),
        layers.Dense(5, activation="relu", name="fc"),
        layers.Dense(3, activation="sigmoid", name="out"),
    )
    randomize(keras_model, seed=4)
    return keras_model, from_keras(keras_model)


def test_default_target_is_the_logit_before_the_final_sigmoid(cnn):
    keras_model, model = cnn
    x = _dna(4, 24)
    refs = seqlift.dinucleotide_shuffle(x, 3, seed=2)
    result = seqlift.attribute(model, x, refs, method="rescale", task=[0, 1, 2])
    assert result.target == "out/preact"
    logits = keras.Model(keras_model.inputs, keras_model.get_layer("out").output)
    # a second model computing the pre-activation: Dense without its sigmoid
    dense = keras_model.get_layer("out")
    pre = logits.layers  # noqa: F841 - the same layers; rebuild the logit by hand below
    hidden = keras.Model(keras_model.inputs, keras_model.get_layer("fc").output)
    kernel, bias = dense.get_weights()

    def logit(a):
        return hidden.predict(a, verbose=0) @ kernel + bias

    expected = logit(x) - logit(refs.reshape(-1, 24, 4)).reshape(4, 3, 3).mean(axis=1)
    np.testing.assert_allclose(result.target_deltas, expected.T, rtol=1e-5, atol=1e-5)


def test_scores_are_bitwise_the_same_wherever_a_sequence_stands(cnn):
    """Chunking, shards and position in the input do not change a sequence's scores at all."""
    _, model = cnn
    x = _dna(11, 24, seed=1)
    for method in ["genomics_default", "integrated_gradients", "grad_x_input"]:
        whole = seqlift.attribute(model, x, 5, method=method, task=[0, 2], batch_size=20, steps=4)
        piece = seqlift.attribute(model, x[3:9], 5, method=method, task=[0, 2], batch_size=20, steps=4)
        np.testing.assert_array_equal(piece.contributions, whole.contributions[:, 3:9])
        np.testing.assert_array_equal(piece.hypothetical, whole.hypothetical[:, 3:9])
        np.testing.assert_array_equal(piece.deltas, whole.deltas[:, 3:9])


@pytest.fixture(scope="module")
def wide_cnn():
    """Strided, dilated and 'same' convolutions, batch norm, and a Dense layer on 896 inputs,
    large enough that TensorFlow's own matrix product rounds by batch size."""
    keras_model = sequential(
        (240, 4),
        layers.Conv1D(16, 11, padding="same", activation="relu"),
        layers.MaxPooling1D(2),
        layers.Conv1D(16, 5, dilation_rate=2, activation="relu"),
        layers.BatchNormalization(),
        layers.Conv1D(16, 3, strides=2, padding="same", activation="relu", name="strided"),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dense(3, activation="sigmoid"),
    )
    randomize(keras_model, seed=8)
    return from_keras(keras_model)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_scores_are_bitwise_the_same_whatever_the_batch_size(wide_cnn, method):
    """Batches of 1 to 1000 pairs, references split over batches or not: identical bits."""
    x = _dna(9, 240, seed=1)
    layer = ["strided"] if method in ("rescale", "revealcancel", "genomics_default") else []
    results = [
        seqlift.attribute(wide_cnn, x, 5, method=method, task=[0, 2], batch_size=size, steps=3,
                          layers=layer, return_multipliers=True)
        for size in (1000, 1, 3, 7, 16, 64)
    ]
    for other in results[1:]:
        np.testing.assert_array_equal(other.contributions, results[0].contributions)
        np.testing.assert_array_equal(other.hypothetical, results[0].hypothetical)
        np.testing.assert_array_equal(other.multipliers, results[0].multipliers)
        np.testing.assert_array_equal(other.deltas, results[0].deltas)
        for name in layer:
            np.testing.assert_array_equal(other.layers[name]["contributions"],
                                          results[0].layers[name]["contributions"])


@pytest.mark.parametrize("method", ["rescale", "revealcancel"])
def test_wide_dense_kernels_multiply_through_their_transposed_copy_alike(monkeypatch, method):
    """With every Dense kernel counted wide, the products go through the kernels' transposed copies
    (invariant.TRANSPOSED_FORWARD_BYTES) block by block: identical bits whatever the batch, the plain
    path's scores."""
    keras_model = sequential((40, 4), layers.Conv1D(8, 5, activation="relu"), layers.Flatten(),
                             layers.Dense(24, activation="relu", name="wide"), layers.Dense(2))
    randomize(keras_model, seed=3)
    x = _dna(5, 40, seed=2)
    plain = seqlift.attribute(from_keras(keras_model), x, 4, method=method, task=[0, 1])
    monkeypatch.setattr(invariant, "TRANSPOSED_FORWARD_BYTES", 0)
    model = from_keras(keras_model)
    results = [seqlift.attribute(model, x, 4, method=method, task=[0, 1], batch_size=size) for size in (1000, 1, 7)]
    wide = next(node.op for node in model.nodes.values() if isinstance(node.op, ops.Dense))
    assert derived.is_kept(wide.kernel, "transposed")
    for other in results[1:]:
        np.testing.assert_array_equal(other.contributions, results[0].contributions)
        np.testing.assert_array_equal(other.deltas, results[0].deltas)
    np.testing.assert_allclose(results[0].contributions, plain.contributions, rtol=1e-5, atol=1e-6)
    # both sum to the output's difference up to rounding, which differs with the order of the sums
    for result in (results[0], plain):
        assert np.abs(result.deltas).max() <= 1e-5 * np.abs(result.target_deltas).max()


@pytest.mark.parametrize("rows_shape,kernel_shape", [((), (4, 128)), ((), (31, 3)), ((5,), (4, 128)),
                                                     ((20,), (64, 300)), ((125,), (128, 128)), ((16,), (200, 1))])
def test_dense_product_gives_a_row_the_same_bits_alone_and_in_any_batch(rows_shape, kernel_shape):
    """invariant.matmul and its transpose: a batch row's result (one row, or one row's positions) has the
    same bits computed alone, with a few others or in a large batch; the product is x @ W. A batch of
    one 16-row block rounded otherwise before the product took two blocks at least (4 x 128, rows 1-3);
    rows of at least 16 positions are one block each (invariant.pair_block)."""
    rng = np.random.default_rng(7)
    kernel = tf.constant(rng.standard_normal(kernel_shape).astype(np.float32))
    assert invariant.pair_block(tf.TensorShape((None, *rows_shape, kernel_shape[0]))) == max(
        int(np.prod(rows_shape)) if np.prod(rows_shape) >= 16 else 16, 16)
    _assert_products_give_rows_their_own_bits(kernel, rows_shape, rng)


@pytest.mark.parametrize("kept", [True, False])
@pytest.mark.parametrize("rows_shape,kernel_shape", [((), (4, 128)), ((), (300, 64)), ((20,), (64, 300))])
def test_wide_kernels_products_block_by_block_give_a_row_the_same_bits(monkeypatch, rows_shape, kernel_shape,
                                                                      kept):
    """Every kernel counted wide (invariant.TRANSPOSED_FORWARD_BYTES): invariant.matmul and its transpose
    multiply one block after another, through the kernel's kept transpose where the layer kept one."""
    monkeypatch.setattr(invariant, "TRANSPOSED_FORWARD_BYTES", 0)
    rng = np.random.default_rng(11)
    kernel = tf.constant(rng.standard_normal(kernel_shape).astype(np.float32))
    if kept:
        invariant.keep_transpose(kernel)
    assert invariant.is_wide(kernel) and derived.is_kept(kernel, "transposed") == kept
    _assert_products_give_rows_their_own_bits(kernel, rows_shape, rng)


def _assert_products_give_rows_their_own_bits(kernel: tf.Tensor, rows_shape: tuple, rng) -> None:
    """``x @ kernel`` (invariant.matmul) and ``g @ kernelᵀ`` (invariant.matmul_transposed) of 120 random
    rows of ``rows_shape``: close to numpy's, and each row's bits the same in slices of 1 to 33 rows."""
    forward = tf.function(lambda x: invariant.matmul(x, kernel), autograph=False, reduce_retracing=True)
    backward = tf.function(lambda g: invariant.matmul_transposed(g, kernel), autograph=False, reduce_retracing=True)
    for product, width, exact in ((forward, kernel.shape[0], lambda x: x @ kernel.numpy()),
                                  (backward, kernel.shape[1], lambda g: g @ kernel.numpy().T)):
        batch = rng.standard_normal((120, *rows_shape, width)).astype(np.float32)
        whole = product(tf.constant(batch)).numpy()
        np.testing.assert_allclose(whole, exact(batch), rtol=1e-4, atol=1e-4)
        for start, count in ((0, 1), (5, 1), (17, 2), (40, 3), (3, 17), (60, 33)):
            np.testing.assert_array_equal(product(tf.constant(batch[start:start + count])).numpy(),
                                          whole[start:start + count])


@pytest.fixture(scope="module")
def recurrent_model():
    """A bidirectional LSTM over every step, then a GRU's last step: each loop's DeepLIFT pass runs all
    targets at once, its kept coefficients and its transpose must be computed alike for every row."""
    keras_model = sequential(
        (30, 4),
        layers.Conv1D(6, 5, activation="relu"),
        layers.Bidirectional(layers.LSTM(8, return_sequences=True)),
        layers.GRU(5, go_backwards=True),
        layers.Dense(3),
    )
    randomize(keras_model, seed=11)
    return from_keras(keras_model)


@pytest.mark.parametrize("method", ["rescale", "revealcancel"])
def test_recurrent_scores_are_bitwise_the_same_whatever_the_batch_size(recurrent_model, method):
    x = _dna(5, 30, seed=3)
    results = [seqlift.attribute(recurrent_model, x, 4, method=method, task=[0, 1, 2], batch_size=size,
                                 return_multipliers=True) for size in (64, 1, 3, 7)]
    assert np.abs(results[0].contributions).max() > 0
    for other in results[1:]:
        np.testing.assert_array_equal(other.contributions, results[0].contributions)
        np.testing.assert_array_equal(other.multipliers, results[0].multipliers)
        np.testing.assert_array_equal(other.deltas, results[0].deltas)


@pytest.mark.parametrize("method", ["rescale", "revealcancel", "gradient"])
def test_smooth_activations_on_short_rows_are_bitwise_the_same_whatever_the_batch_size(method):
    """TensorFlow's exp, sigmoid, log1p, rsqrt... round the elements past a tensor's last whole vector
    packet differently; rows of 5, 7 or 9 values must not take their bits from the batch's size."""
    keras_model = sequential(
        (6, 4),
        layers.Flatten(),
        layers.Dense(5, activation="sigmoid"),
        layers.Dense(7, activation="elu"),
        layers.LayerNormalization(),
        layers.Dense(9, activation="softplus"),
        layers.Dense(5, activation="gelu"),
        layers.Dense(5, activation="swish"),
        layers.Dense(2),
    )
    model = from_keras(randomize(keras_model, seed=5))
    x = _dna(6, 6, seed=2)
    results = [seqlift.attribute(model, x, 3, method=method, task=[0, 1], batch_size=size, return_multipliers=True)
               for size in (64, 1, 5)]
    assert np.abs(results[0].contributions).max() > 0
    for other in results[1:]:
        np.testing.assert_array_equal(other.contributions, results[0].contributions)
        np.testing.assert_array_equal(other.multipliers, results[0].multipliers)


def _conv_transpose_float64(g, kernel, length, stride, dilation, padding):
    """Wᵀg of a 1-D convolution from its definition: output o reads input o·s + j·d − left through tap j."""
    size = kernel.shape[0]
    span = (size - 1) * dilation + 1
    left = {"valid": 0, "causal": span - 1,
            "same": max((-(-length // stride) - 1) * stride + span - length, 0) // 2}[padding]
    x = np.zeros((g.shape[0], length, kernel.shape[1]))
    for o in range(g.shape[1]):
        for j in range(size):
            i = o * stride + j * dilation - left
            if 0 <= i < length:
                x[:, i] += g[:, o].astype(np.float64) @ kernel[j].astype(np.float64).T
    return x


@pytest.mark.parametrize("options", [
    dict(padding="valid"), dict(padding="same"), dict(padding="causal"), dict(padding="same", strides=(2,)),
    dict(padding="valid", dilation_rate=(2,)), dict(padding="causal", groups=2),
], ids=["valid", "same", "causal", "stride2", "dilation2", "groups2"])
def test_first_layer_convolution_transpose_is_exact_and_batch_invariant(options):
    """A convolution over one-hot DNA (4 channels per group) is differentiated by invariant.py's pointwise
    transpose: Wᵀg equals a float64 computation, and a row's bits do not depend on the batch."""
    groups, length = options.get("groups", 1), 30
    stride, dilation = options.get("strides", (1,))[0], options.get("dilation_rate", (1,))[0]
    rng = np.random.default_rng(7)
    kernel = rng.normal(size=(7, 4, 6 * groups)).astype(np.float32)
    assert invariant._pointwise_pays(4, 6)
    op = ops.Conv(kernel, None, 1, **options)
    x = tf.constant(rng.normal(size=(17, length, 4 * groups)).astype(np.float32))
    out = op.apply(x, op.kernel).shape[1]
    g = rng.normal(size=(17, out, 6 * groups)).astype(np.float32)

    def transpose(rows: int) -> np.ndarray:
        part = x[:rows]
        with tf.GradientTape() as tape:
            tape.watch(part)
            y = op.apply(part, op.kernel)
        return tape.gradient(y, part, output_gradients=tf.constant(g[:rows])).numpy()

    whole = transpose(17)
    for group in range(groups):
        channels, filters = slice(4 * group, 4 * group + 4), slice(6 * group, 6 * group + 6)
        expected = _conv_transpose_float64(g[..., filters], kernel[..., filters], length, stride, dilation,
                                           options["padding"])
        np.testing.assert_allclose(whole[..., channels], expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    for rows in (1, 3):
        np.testing.assert_array_equal(transpose(rows), whole[:rows])


@pytest.mark.parametrize("shape", [(1000, 21, 4, 64, "valid"), (200, 11, 4, 50, "same"), (333, 25, 1, 128, "causal"),
                                   (120, 13, 8, 96, "same"), (60, 3, 4, 16, "valid")],
                         ids=["cnn1kb", "paper", "one-channel", "eight-channels", "short"])
def test_tap_grouped_first_layer_transpose_is_exact_and_batch_invariant(shape):
    """First layers (stride 1, at most 128 filters) are transposed with their taps in groups: Wᵀg equals a
    float64 computation, and a row's bits do not depend on the batch."""
    length, size, channels, filters, padding = shape
    rng = np.random.default_rng(11)
    kernel = rng.normal(size=(size, channels, filters)).astype(np.float32)
    op = ops.Conv(kernel, None, 1, padding=padding)
    x = tf.constant(rng.normal(size=(7, length, channels)).astype(np.float32))
    g = rng.normal(size=(7, op.apply(x, op.kernel).shape[1], filters)).astype(np.float32)
    calls = []
    grouped = invariant._tap_grouped
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(invariant, "_tap_grouped", lambda *a: calls.append(a) or grouped(*a))
        transpose = tf.function(lambda rows: invariant.conv_transpose(rows, op.kernel, [length], [1], [1], padding))
        whole = transpose(tf.constant(g)).numpy()
        assert calls, "the tap-grouped path was not taken"
        expected = _conv_transpose_float64(g, kernel, length, 1, 1, padding)
        np.testing.assert_allclose(whole, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
        for rows in (1, 2, 3, 5):
            np.testing.assert_array_equal(transpose(tf.constant(g[:rows])).numpy(), whole[:rows])


@pytest.mark.parametrize("shape", [(190, 11, 50, 50, 1, "valid"), (120, 9, 24, 40, 1, "same"),
                                   (150, 5, 16, 24, 2, "causal"), (30, 3, 8, 8, 1, "same"),
                                   (600, 9, 64, 64, 1, "valid"), (600, 9, 64, 64, 2, "valid")],
                         ids=["paper-blocks", "same-blocks", "dilated-blocks", "windows", "wide", "dilated-rows"])
def test_plain_transpose_reads_its_padding_and_is_exact_and_batch_invariant(shape):
    """A convolution of many input channels is transposed by a forward convolution of ``g`` with the flipped
    kernel, reading the padding around ``g`` rather than writing it (the blocks' explicit padding, the
    windows' and rows' own): Wᵀg equals a float64 computation, agrees with the transpose of ``g`` padded
    first (the same bits where the library reads explicit padding as zeros written out, as Eigen's
    kernels do; oneDNN's may block the sums otherwise, which rounds anywhere in the row), and a row's bits do not depend on the batch, whichever blocks it falls in."""
    length, size, channels, filters, dilation, padding = shape
    rng = np.random.default_rng(size)
    kernel = tf.constant(rng.normal(size=(size, channels, filters)).astype(np.float32))
    assert invariant._transpose_path(kernel, [1], [dilation]) == "plain"
    out = invariant.conv_padding(length, size, 1, dilation, padding)[2]
    batch = 2 * invariant.BLOCK_ROWS + 5
    g = rng.normal(size=(batch, out, filters)).astype(np.float32)
    transpose = tf.function(lambda rows: invariant.conv_transpose(rows, kernel, [length], [1], [dilation], padding))
    whole = transpose(tf.constant(g)).numpy()
    expected = _conv_transpose_float64(g, kernel.numpy(), length, 1, dilation, padding)
    np.testing.assert_allclose(whole, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    pads = invariant.transpose_padding(kernel, [length], [1], [dilation], padding)
    padded_first = tf.function(lambda rows: invariant.conv_transpose(tf.pad(rows, pads), kernel, [length], [1],
                                                                     [dilation], padding, padded=True))(g).numpy()
    if invariant._onednn_kernels():
        np.testing.assert_allclose(whole, padded_first, rtol=0, atol=1e-5 * np.abs(padded_first).max())
    else:
        assert whole.tobytes() == padded_first.tobytes()
    for rows in (1, 3, invariant.BLOCK_ROWS + 1):
        for start in (0, 2, batch - rows):
            assert transpose(tf.constant(g[start:start + rows])).numpy().tobytes() == whole[start:start + rows].tobytes()


def test_default_passes_share_the_sequences_evenly(cnn, monkeypatch):
    """The default batch is filled with the budget's pairs only where that wastes no whole pass on padding."""
    _, model = cnn
    from seqlift.engine import attribution
    from seqlift.model import invariant

    monkeypatch.setattr(attribution, "pairs_per_batch", lambda *args: 88 * 3)  # a budget of 88 sequences
    monkeypatch.setattr(invariant, "BLOCK_ROWS", 32)  # oneDNN's blocks, whichever kernels run
    ends: list[int] = []
    seqlift.attribute(model, _dna(100, 24), references=3, progress=ends.append)
    assert ends == [52, 100]  # two passes of 52 (the second padded by 4), not 88 + 12 padded by 76
    ends.clear()
    seqlift.attribute(model, _dna(32, 24), references=3, progress=ends.append)
    assert ends == [32]


@pytest.mark.parametrize("block", [8, 32])
def test_default_passes_fill_the_invariant_kernels_blocks(block, monkeypatch):
    """A pass's pairs are computed in whole blocks of BLOCK_ROWS rows (the last padded), so the default
    passes are chosen, down to half the budget's sequences, to take the least time in all (never more
    than the budget's even passes), and seqlift score's the least per sequence."""
    from seqlift.engine import attribution, budget
    from seqlift.model import invariant

    monkeypatch.setattr(invariant, "BLOCK_ROWS", block)
    if block == 32:
        # the bench's paper workload: 100 sequences of 10 references within 256 pairs ran as passes of 26
        # (260 pairs in 9 blocks, the ninth with 4 pairs): now 25 (250 in 8); 800 of 20 as 62 passes of 13
        # (260 pairs each): now 73 of 11 (220 in 7 blocks)
        assert attribution._even_passes_in_blocks(100, 10, 26) == 25
        assert attribution._even_passes_in_blocks(800, 20, 13) == 11
        # seqlift score's passes: 256 pairs of 20 references in passes of 11 sequences, not 12 (240 in 256)
        assert budget.sequences_per_pass(20, 12) == 11 and budget.sequences_per_pass(10, 25) == 25
    for n in (1, 7, 33, 100, 257, 800):
        for refs in (1, 3, 10, 20, 50):
            for most in (1, 5, 13, 26, 88):
                chosen, even = attribution._even_passes_in_blocks(n, refs, most), attribution._even_passes(n, most)
                assert 1 <= chosen <= most
                assert (-(-n // chosen) * budget.pass_cost(chosen, refs)
                        <= -(-n // even) * budget.pass_cost(even, refs)), (n, refs, most)
            per_sequence = budget.sequences_per_pass(refs, 12)
            assert 6 <= per_sequence <= 12
            assert budget.pass_cost(per_sequence, refs) / per_sequence <= budget.pass_cost(12, refs) / 12


_CONVOLUTION_SHAPES = [
    # (input spatial, kernel spatial, channels, filters, strides, dilations, padding, invariant.convolution_path:
    # a product of windows, a loop over blocks of rows, a loop over rows)
    ((10,), (3,), 3, 5, (1,), (1,), "SAME", "windows"),
    ((31,), (5,), 4, 8, (2,), (1,), "VALID", "windows"),
    ((40,), (3,), 6, 7, (1,), (3,), "SAME", "windows"),
    ((12, 5), (3, 2), 3, 4, (1,), (1,), "SAME", "windows"),
    ((13, 9), (3, 3), 2, 3, (1,), (1, 2), "VALID", "windows"),
    ((600,), (19,), 4, 30, (1,), (1,), "SAME", "blocks"),
    ((300,), (11,), 16, 12, (3,), (1,), "VALID", "blocks"),
    ((60, 40), (5, 3), 4, 6, (2, 1), (1,), "SAME", "blocks"),
    # the 1 kb CNN's second layer: Eigen's convolution of a block of 8 rows gave its last row other bits than
    # the others on a 2-core AVX2 CPU unless the positions were padded to a multiple of POSITION_ALIGN
    ((245,), (11,), 64, 64, (1,), (1,), "VALID", "blocks"),
    # rows of more than BLOCK_MAX_NUMBERS: blocks of WIDE_BLOCK_ROWS rows where they are undilated (oneDNN's
    # kernels; the test makes them so whichever kernels run), one by one where dilated or larger still
    ((600,), (9,), 64, 64, (1,), (1,), "VALID", "wide blocks"),
    ((60, 80), (3, 3), 24, 16, (1,), (1,), "SAME", "wide blocks"),
    ((1200,), (3,), 32, 32, (1,), (2,), "VALID", "rows"),
    ((200, 180), (3, 3), 8, 8, (1,), (1,), "SAME", "rows"),
]


@pytest.mark.parametrize("shape,block_rows,align", [
    # the blocks' path in blocks of both sizes invariant.BLOCK_ROWS takes (32 under oneDNN, 8 under Eigen) and
    # with both POSITION_ALIGNs (1 under oneDNN: positions as they are; 48 under Eigen: extra positions cut
    # after), each on a batch of more than two blocks, whichever kernels this TensorFlow runs
    (shape, rows, align) for shape in _CONVOLUTION_SHAPES
    for rows in ((8, 32) if shape[-1] == "blocks" else (None,))
    for align in ((1, 48) if shape[-1] in ("blocks", "wide blocks") else (None,))
])
def test_invariant_convolution_equals_tensorflows_and_gives_a_row_the_same_bits_in_any_batch(shape, block_rows, align,
                                                                                               monkeypatch):
    from seqlift.model import invariant

    if block_rows is not None:
        monkeypatch.setattr(invariant, "BLOCK_ROWS", block_rows)
    if align is not None:
        monkeypatch.setattr(invariant, "POSITION_ALIGN", align)
    batch = 2 * invariant.BLOCK_ROWS + 5 if block_rows is not None else 13
    spatial, size, channels, filters, strides, dilations, padding, path = shape
    per_axis = [s * len(spatial) if len(s) == 1 else s for s in (strides, dilations)]
    outputs = [invariant.conv_padding(n, k, s, d, padding.lower())[2] for n, k, s, d in zip(spatial, size, *per_axis)]
    row_shape = (np.prod(spatial) * channels, outputs, (*size, channels, filters))
    if path == "wide blocks":
        monkeypatch.setattr(invariant, "WIDE_BLOCK_MAX_NUMBERS", 2**19)
        assert invariant.rows_per_block(*row_shape) == invariant.WIDE_BLOCK_ROWS
        batch, path = 2 * invariant.WIDE_BLOCK_ROWS + 5, "blocks"
    dilated = any(d != 1 for d in per_axis[1])
    assert invariant.convolution_path(*row_shape, dilated=dilated) == path
    rng = np.random.default_rng(len(spatial) * 100 + size[0])
    x = rng.normal(size=(batch, *spatial, channels)).astype(np.float32)
    kernel = tf.constant(rng.normal(size=(*size, channels, filters)).astype(np.float32))
    run = tf.function(lambda a: invariant.convolution(a, kernel, strides, padding, dilations))
    whole = run(tf.constant(x)).numpy()
    stock = tf.nn.convolution(x, kernel, strides=strides, padding=padding, dilations=dilations).numpy()
    np.testing.assert_allclose(whole, stock, rtol=1e-5, atol=1e-5 * np.abs(stock).max())
    for rows in (1, 2, 5, 9, batch - 1):
        for start in (0, batch - rows):
            alone = run(tf.constant(x[start:start + rows])).numpy()
            assert alone.tobytes() == whole[start:start + rows].tobytes(), (rows, start)
    # two batches convolved together (a loop over the rows of both on the "rows" path): each row's own bits
    pair = tf.function(lambda a, b: invariant.convolutions([a, b], [kernel, kernel], strides, padding, dilations))
    first, second = (t.numpy() for t in pair(tf.constant(x[:3]), tf.constant(x[3:])))
    assert first.shape == whole[:3].shape and second.shape == whole[3:].shape
    assert first.tobytes() == whole[:3].tobytes() and second.tobytes() == whole[3:].tobytes()
    # ... and with a kernel each (a layer's kernel and |kernel|)
    absolute = tf.abs(kernel)
    alone = tf.function(lambda a: invariant.convolution(a, absolute, strides, padding, dilations))(tf.constant(x[3:]))
    pair = tf.function(lambda a, b: invariant.convolutions([a, b], [kernel, absolute], strides, padding, dilations))
    first, second = (t.numpy() for t in pair(tf.constant(x[:3]), tf.constant(x[3:])))
    assert first.tobytes() == whole[:3].tobytes() and second.tobytes() == alone.numpy().tobytes()


@pytest.mark.parametrize("shape", [((2098,), 3, 64, 64, 1, 4, "valid"), ((600,), 19, 4, 64, 1, 1, "same"),
                                   ((600,), 19, 4, 300, 1, 1, "same"), ((101,), 21, 4, 64, 3, 1, "same"),
                                   ((30, 20), 3, 8, 8, 1, 1, "same")],
                         ids=["dilated-rows", "tap-groups", "pointwise", "strided", "2d"])
def test_two_transposes_together_give_each_its_own_bits(shape):
    """conv_transposes of two multipliers with a kernel each (Wᵀ and |W|ᵀ, one loop where rows go one by
    one) gives each the bits of conv_transpose alone."""
    spatial, size, channels, filters, stride, dilation, padding = shape
    rank = len(spatial)
    rng = np.random.default_rng(size)
    kernel = tf.constant(rng.normal(size=(*[size] * rank, channels, filters)).astype(np.float32))
    absolute = tf.abs(kernel)
    outputs = [invariant.conv_padding(n, size, stride, dilation, padding)[2] for n in spatial]
    g, h = (tf.constant(rng.normal(size=(rows, *outputs, filters)).astype(np.float32)) for rows in (3, 4))
    options = ([stride] * rank, [dilation] * rank, padding)
    both = tf.function(lambda a, b: invariant.conv_transposes([a, b], [kernel, absolute], spatial, *options))(g, h)
    for value, (m, k) in zip(both, ((g, kernel), (h, absolute))):
        alone = tf.function(lambda a: invariant.conv_transpose(a, k, spatial, *options))(m)
        assert value.shape == alone.shape and value.numpy().tobytes() == alone.numpy().tobytes()


@pytest.mark.parametrize("shape", [((2098,), 3, 64, 64, 4, "valid", "by_row_zipped", True),
                                   ((2114,), 21, 4, 64, 1, "valid", "by_row_zipped", False),
                                   ((2114,), 21, 4, 64, 1, "valid", "wide by_blocks", False),
                                   ((190,), 11, 50, 50, 1, "valid", "by_blocks", True),
                                   ((200,), 11, 4, 50, 1, "valid", "by_blocks", False),
                                   ((200,), 5, 16, 16, 1, "same", None, False)],
                         ids=["dilated-rows", "tap-groups-rows", "tap-groups-wide-blocks", "blocks", "tap-groups-blocks",
                              "windows"])
@pytest.mark.parametrize("align", [1, 48], ids=["positions-as-they-are", "positions-aligned"])
def test_transposes_of_operands_made_row_by_row_give_the_bits_of_whole_operands(shape, align, monkeypatch):
    """RowwiseOperands (a RevealCancel nonlinearity's products, made inside the transposes' loop where its
    rows go one by one or in blocks, unpadded, a block's convolution reading the padding as its explicit
    padding; made padded on the whole tensors elsewhere) give each row the same bits alone as in a batch,
    and the bits of the padded operands made first: exactly where the blocks' library reads explicit
    padding as zeros written out (Eigen's kernels), to rounding where it does not (oneDNN's). Joined in the loop (the plain transpose's rows and blocks, no padding
    to cut), the same of the two transposes joined after; in blocks, with each row's positions as they are
    (POSITION_ALIGN 1, oneDNN's) and aligned (Eigen's 48, the extra positions cut in the loop)."""
    spatial, size, channels, filters, dilation, padding, loop, joins = shape
    monkeypatch.setattr(invariant, "POSITION_ALIGN", align)
    # ChromBPNet's first layer's rows: one by one, or in blocks of WIDE_BLOCK_ROWS (oneDNN's kernels), whichever
    # kernels run
    wide = invariant.WIDE_BLOCK_MAX_NUMBERS if loop != "by_row_zipped" else invariant.BLOCK_MAX_NUMBERS
    monkeypatch.setattr(invariant, "WIDE_BLOCK_MAX_NUMBERS", 2**19 if loop == "wide by_blocks" else wide)
    loop = loop.removeprefix("wide ") if loop else loop
    loops = []
    for name in ("by_row_zipped", "by_blocks"):
        original = getattr(invariant, name)
        def counted(fn, inputs, *rest, name=name, original=original):
            loops.append((name, len(inputs)))
            return original(fn, inputs, *rest)

        monkeypatch.setattr(invariant, name, counted)
    rng = np.random.default_rng(size)
    kernel = tf.constant(rng.normal(size=(size, channels, filters)).astype(np.float32))
    absolute = tf.abs(kernel)
    outputs = invariant.conv_padding(spatial[0], size, 1, dilation, padding)[2]
    pads = tuple(tuple(p) for p in invariant.transpose_padding(kernel, spatial, [1], [dilation], padding))
    inputs = [tf.constant(rng.normal(size=(5, outputs, filters)).astype(np.float32)) for _ in range(3)]
    exact = loop != "by_blocks" or not invariant._onednn_kernels()

    def agree(value: tf.Tensor, expected: tf.Tensor) -> None:
        assert value.shape == expected.shape
        if exact:
            assert value.numpy().tobytes() == expected.numpy().tobytes()
        else:
            scale = float(np.abs(expected.numpy()).max())
            np.testing.assert_allclose(value.numpy(), expected.numpy(), rtol=0, atol=1e-5 * scale)

    def unpadded(m, mean, half):
        return m * mean, m * half

    def products(m, mean, half):
        return tuple(tf.pad(operand, pads) for operand in unpadded(m, mean, half))

    options = (spatial, [1], [dilation], padding)
    made = tf.function(lambda *rows: invariant.conv_transposes(
        invariant.RowwiseOperands(products, unpadded, rows, pads), [kernel, absolute], *options, padded=True))
    first = tf.function(lambda *rows: invariant.conv_transposes(products(*rows), [kernel, absolute], *options,
                                                                padded=True))
    batch = made(*inputs)
    for value, expected in zip(batch, first(*inputs)):
        agree(value, expected)
    # rows and blocks make the operands in their loop (over the three inputs), windows first
    assert loops[:1] == ([(loop, 3)] if loop else [])
    for value, in_batch in zip(made(*[x[2:3] for x in inputs]), batch):  # and a row alone
        assert value.numpy().tobytes() == in_batch.numpy()[2:3].tobytes()

    def join(d, g, a):
        return g + tf.sign(d) * a

    delta = tf.constant(rng.normal(size=(5, *spatial, channels)).astype(np.float32))
    joined = tf.function(lambda d, *rows: invariant.conv_transposes(
        invariant.RowwiseOperands(products, unpadded, rows, pads, join=join, joined_with=d), [kernel, absolute],
        *options, padded=True))
    values = joined(delta, *inputs)
    assert len(values) == (1 if joins else 2)
    expected = join(delta, *first(*inputs)) if joins else None
    for value, alone in zip(values, [expected] if joins else first(*inputs)):
        agree(value, alone)
    if joins:  # a row alone
        assert joined(delta[1:2], *[x[1:2] for x in inputs])[0].numpy().tobytes() == values[0].numpy()[1:2].tobytes()


@pytest.mark.parametrize("padding", ["same", "valid", "causal"])
def test_strided_convolution_rows_do_not_depend_on_the_batch(padding):
    """TensorFlow's strided kernel gives a row different bits with the batch size for some shapes
    (kernel 21, stride 3, length 101, 4 -> 64 channels, 'same'); seqlift's does not, and agrees
    with it to rounding."""
    import tensorflow as tf

    from seqlift.model import ops

    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(21, 4, 64)).astype(np.float32)
    op = ops.Conv(kernel, None, rank=1, strides=(3,), padding=padding)
    x = rng.normal(size=(20, 101, 4)).astype(np.float32)
    run = tf.function(lambda a: op(a))
    full = run(tf.constant(x)).numpy()
    for rows in (1, 2, 3, 5, 17):
        assert run(tf.constant(x[:rows])).numpy().tobytes() == full[:rows].tobytes()
    stock_input = np.pad(x, [(0, 0), (20, 0), (0, 0)]) if padding == "causal" else x
    stock = tf.nn.convolution(stock_input, kernel, strides=[3], padding="VALID" if padding == "causal" else padding.upper())
    np.testing.assert_allclose(full, stock.numpy(), rtol=1e-5, atol=1e-5 * np.abs(full).max())


def test_references_split_over_batches_still_average_correctly(cnn):
    _, model = cnn
    x = _dna(3, 24, seed=3)
    whole = seqlift.attribute(model, x, 6, method="rescale", batch_size=100)
    split = seqlift.attribute(model, x, 6, method="rescale", batch_size=4)  # 6 references in passes of 4 and 2
    np.testing.assert_allclose(split.contributions, whole.contributions, rtol=1e-6, atol=1e-7)


def test_one_task_and_a_task_list_agree(cnn):
    _, model = cnn
    x = _dna(3, 24, seed=5)
    both = seqlift.attribute(model, x, 4, task=[1, 2])
    one = seqlift.attribute(model, x, 4, task=2)
    assert both.contributions.shape == (2, 3, 24, 4) and one.contributions.shape == (3, 24, 4)
    np.testing.assert_array_equal(both.contributions[1], one.contributions)
    np.testing.assert_array_equal(both.deltas[1], one.deltas)


def test_hypothetical_contributions_project_onto_the_observed_bases(cnn):
    _, model = cnn
    x = _dna(5, 24, seed=6)
    result = seqlift.attribute(model, x, 4, method="revealcancel", task=0)
    projected = (result.hypothetical * x).sum(axis=-1)
    np.testing.assert_allclose(projected, result.contributions.sum(axis=-1), rtol=1e-5, atol=1e-6)
    assert not np.allclose(result.hypothetical * (1 - x), 0), "hypothetical scores of unobserved bases are kept"


def test_gradient_methods_match_a_plain_tensorflow_gradient(cnn):
    keras_model, model = cnn
    x = _dna(3, 24, seed=8)
    refs = seqlift.dinucleotide_shuffle(x, 4, seed=1)
    logit_model = keras.Model(keras_model.inputs, keras_model.get_layer("fc").output)
    kernel, bias = keras_model.get_layer("out").get_weights()
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        value = tf.matmul(logit_model(xt), kernel)[:, 1] + bias[1]
    grad = tape.gradient(value, xt).numpy()
    gradient = seqlift.attribute(model, x, refs, method="gradient", task=1)
    np.testing.assert_allclose(gradient.hypothetical, grad, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gradient.contributions, grad * x, rtol=1e-5, atol=1e-6)
    gxi = seqlift.attribute(model, x, refs, method="grad_x_input", task=1)
    np.testing.assert_allclose(gxi.contributions, grad * (x - refs.mean(axis=1)), rtol=1e-5, atol=1e-6)


def test_integrated_gradients_is_the_midpoint_riemann_sum(cnn):
    _, model = cnn
    x = _dna(2, 24, seed=9)
    refs = seqlift.dinucleotide_shuffle(x, 2, seed=3)
    steps = 5
    expected = np.zeros_like(x)
    for s in range(2):
        total = np.zeros_like(x)
        for k in range(steps):
            point = refs[:, s] + (k + 0.5) / steps * (x - refs[:, s])
            total += seqlift.attribute(model, point, point[:, None], method="gradient", task=0).hypothetical
        expected += total / steps * (x - refs[:, s])
    result = seqlift.attribute(model, x, refs, method="integrated_gradients", task=0, steps=steps)
    np.testing.assert_allclose(result.contributions, expected / 2, rtol=1e-4, atol=1e-6)
    finer = seqlift.attribute(model, x, refs, method="integrated_gradients", task=0, steps=40)
    assert np.abs(finer.deltas).max() < np.abs(result.deltas).max() + 1e-6


def test_softmax_normalisation_removes_the_mean_over_classes(cnn):
    _, model = cnn
    x = _dna(3, 24, seed=10)
    result = seqlift.attribute(model, x, 3, method="rescale", task=[0, 1, 2], softmax_normalize=True)
    np.testing.assert_allclose(result.contributions.sum(axis=0), 0.0, atol=1e-6)
    plain = seqlift.attribute(model, x, 3, method="rescale", task=[0, 1, 2])
    np.testing.assert_allclose(result.contributions, plain.contributions - plain.contributions.mean(axis=0), atol=1e-6)


def test_inner_layer_scores_also_sum_to_delta(cnn):
    _, model = cnn
    x = _dna(4, 24, seed=11)
    result = seqlift.attribute(model, x, 4, method="genomics_default", task=0, layers=["fc", "conv"])
    for name in ["fc", "conv"]:
        layer_sum = result.layers[name]["contributions"].reshape(4, -1).sum(axis=1)
        np.testing.assert_allclose(layer_sum, result.target_deltas, rtol=1e-4, atol=1e-5)
    assert result.layers["conv"]["multipliers"].shape == (4, 20, 6)


def test_several_inputs_get_references_each_and_sum_to_delta():
    keras_model = randomize(functional_two_inputs(), seed=2)
    model = from_keras(keras_model)
    rng = np.random.default_rng(0)
    seq = _dna(3, 12, seed=2)
    extra = rng.normal(0, 1, (3, 6)).astype(np.float32)
    refs = [seqlift.dinucleotide_shuffle(seq, 4, seed=1), rng.normal(0, 1, (4, 6)).astype(np.float32)]
    result = seqlift.attribute(model, [seq, extra], refs, method="genomics_default", target_layer="out1/preact", task=[0, 2])
    total = result.contributions[0].sum(axis=(2, 3)) + result.contributions[1].sum(axis=2)
    np.testing.assert_allclose(total, result.target_deltas, rtol=1e-4, atol=1e-5)
    assert result.hypothetical[1] is None


def test_sigmoid_rescale_uses_the_derivative_at_the_reference():
    """Where Δx = 0 the multiplier is σ'(x0), not the original's σ'(σ(x0))."""
    x0 = tf.constant([0.7, -1.3])
    m = rules.rescale_multiplier(x0, tf.zeros(2), tf.zeros(2), lambda v: tf.sigmoid(v) * (1 - tf.sigmoid(v)))
    s = 1 / (1 + np.exp(-np.array([0.7, -1.3])))
    np.testing.assert_allclose(m.numpy(), s * (1 - s), rtol=1e-6)


def test_revealcancel_takes_the_limit_where_a_part_is_zero():
    relu = tf.nn.relu
    step = lambda v: tf.cast(v > 0, tf.float32)  # noqa: E731
    x0 = tf.constant([0.5, -2.0, 0.3])
    dx_pos = tf.constant([0.0, 1.0, 0.0])
    dx_neg = tf.constant([-1.0, 0.0, 0.0])
    dy_pos, dy_neg = rules.revealcancel_parts(x0, dx_pos, dx_neg, relu)
    m_pos, m_neg = rules.revealcancel_multipliers(x0, dx_pos, dx_neg, dy_pos, dy_neg, step)
    # limits: ½[f'(x0) + f'(x0 + Δx⁻)] and ½[f'(x0) + f'(x0 + Δx⁺)]
    np.testing.assert_allclose(m_pos.numpy(), [0.5, 0.0, 1.0])
    np.testing.assert_allclose(m_neg.numpy(), [0.5, 0.0, 1.0])
    np.testing.assert_allclose((dy_pos + dy_neg).numpy(), (relu(x0 + dx_pos + dx_neg) - relu(x0)).numpy())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(method="deconvnet"), "unknown method 'deconvnet'"),
        (dict(task=3), "task 3 is out of range: the target 'out/preact' has 3 outputs"),
        (dict(target_layer="nope"), "target layer 'nope' is not in the model"),
        (dict(maxpool="average"), "unknown maxpool rule"),
        (dict(layers=["ghost"]), "layer 'ghost' is not in the model"),
        (dict(steps=0), "steps must be at least 1"),
    ],
)
def test_bad_arguments_get_one_clear_line(cnn, kwargs, message):
    _, model = cnn
    with pytest.raises(SeqliftError, match=message.replace("(", r"\(").replace(")", r"\)")):
        seqlift.attribute(model, _dna(2, 24), 2, **kwargs)


def test_inputs_of_the_wrong_shape_are_refused(cnn):
    _, model = cnn
    with pytest.raises(SeqliftError, match=r"expects arrays of shape \(N, 24, 4\), got \(2, 30, 4\)"):
        seqlift.attribute(model, _dna(2, 30), 2)
    with pytest.raises(SeqliftError, match="do not fit inputs"):
        seqlift.attribute(model, _dna(2, 24), np.zeros((3, 20, 4), np.float32))
