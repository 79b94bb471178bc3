"""What the engine asks TensorFlow to trace, optimize and compile (issue 15's first call)."""
import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers
from tensorflow.core.protobuf import rewriter_config_pb2
from tensorflow.python.eager import context

import seqlift
from seqlift.engine import activation_rules, graph_options
from seqlift.model import compile_ahead, from_keras

Rewriter = rewriter_config_pb2.RewriterConfig


def _relu_tower(lengths_shrink: tuple[int, ...]) -> keras.Model:
    """Convolutions with ReLU, each shortening the sequence, so that every ReLU sees another shape."""
    x = inputs = keras.Input((60, 4))
    for i, width in enumerate(lengths_shrink):
        x = layers.Conv1D(6, width + 1, activation="relu", name=f"conv{i}")(x)
    x = layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, layers.Dense(1, name="out")(x))


@pytest.mark.parametrize("method,rule", [("revealcancel", "_revealcancel_after_kernel_multipliers"),
                                         ("rescale", "_rescale_multiplier")])
def test_layers_with_one_activation_share_one_trace_of_its_rule(method, rule):
    keras.utils.set_random_seed(0)
    model = from_keras(_relu_tower((2, 4, 6, 8)))
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (2, 60))]
    fused = getattr(activation_rules, rule)
    before = fused.function.experimental_get_tracing_count()
    seqlift.attribute(model, x, 3, method=method)
    # four ReLU layers of four shapes: at most one trace for the first shape and one with the shape relaxed
    # (a trace per layer before the activations were shared)
    assert fused.function.experimental_get_tracing_count() - before <= 2


def test_revealcancel_after_each_convolution_makes_its_split_in_its_own_pass(monkeypatch):
    calls = []
    original = activation_rules.revealcancel_after_kernel
    monkeypatch.setattr(activation_rules, "revealcancel_after_kernel",
                        lambda *args, **kwargs: calls.append(args[0].kind) or original(*args, **kwargs))
    keras.utils.set_random_seed(0)
    model = from_keras(_relu_tower((2, 4, 6)))
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (2, 60))]
    seqlift.attribute(model, x, 3, method="revealcancel")
    assert calls == ["relu"] * 3


@pytest.mark.parametrize("kind", ["relu", "sigmoid", "tanh"])
def test_revealcancel_after_a_kernel_layer_splits_it_in_its_own_pass_to_the_same_bits(kind):
    """The layer's parts ½(Δy ± |W||Δx|) made inside the rule's fused pass: the bits of making them first."""
    from seqlift.engine import rules
    from seqlift.model import ops

    rng = np.random.default_rng(0)
    x0, delta, response = (tf.constant(rng.normal(size=(5, 7, 3)).astype(np.float32)) for _ in range(3))
    response = tf.abs(response) + tf.abs(delta)  # |W||Δx| bounds |Δy|
    function = ops.Activation(kind)
    fused = activation_rules.revealcancel_after_kernel(function, x0, delta, response)
    apart = activation_rules.revealcancel_node(function, x0, *rules.kernel_split_forward(delta, response))
    for a, b in zip(fused, apart):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert np.abs(fused[2].numpy() - fused[3].numpy()).max() > 0  # the parts carry different multipliers
    # the multipliers alone (what the backward pass reads; the parts not written out): the same bits
    alone = activation_rules.revealcancel_after_kernel(function, x0, delta, response, parts=False)
    assert len(alone) == 2
    for a, b in zip(alone, fused[2:]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # through a batch normalisation whose scales have both signs: its parts made in the same pass
    scale = tf.constant([1.5, -0.7, 0.2])
    through = activation_rules.revealcancel_after_scaled_kernel(function, x0, delta, response, scale)
    apart = activation_rules.revealcancel_node(
        function, x0, *rules.scaled_parts(*rules.kernel_split_forward(delta, response), scale))
    for a, b in zip(through, apart):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    alone = activation_rules.revealcancel_after_scaled_kernel(function, x0, delta, response, scale, parts=False)
    for a, b in zip(alone, through[2:]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("padding,dilation,norm", [("valid", 1, False), ("same", 2, False), ("causal", 1, True)])
def test_convolution_below_revealcancel_makes_its_transposes_operands_in_one_pass_to_the_same_bits(
        monkeypatch, padding, dilation, norm):
    """Each convolution under a RevealCancel ReLU (through a batch normalisation, with ``norm``) gets
    ``m ⊙ mean`` and ``m ⊙ half`` (with the layer above's split sum, ``m = g + sign(Δx) ⊙ a``) padded for
    its transposes in one fused pass: the scores' bits are those of the multipliers made and padded one
    operation at a time."""
    from model_zoo import randomize

    from seqlift.engine import rules
    from seqlift.model import ops

    keras.utils.set_random_seed(3)
    x = inputs = keras.Input((40, 4))
    for i, (filters, width) in enumerate([(24, 5), (8, 3), (6, 4)]):  # tap groups, then the plain transpose
        x = layers.Conv1D(filters, width, padding=padding, dilation_rate=dilation if i else 1, name=f"conv{i}")(x)
        if norm:
            x = layers.BatchNormalization(name=f"norm{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
    outputs = layers.Dense(2, name="out")(layers.Flatten()(x))
    keras_model = randomize(keras.Model(inputs, outputs), seed=5)
    for layer in keras_model.layers:  # scales of both signs: a negative one swaps the parts
        if norm and isinstance(layer, layers.BatchNormalization):
            layer.gamma.assign(layer.gamma * np.where(np.arange(layer.gamma.shape[0]) % 3 == 0, -1.0, 1.0))
    sequences = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (3, 40))]

    calls, through_norm = [], []
    original = rules.padded_products
    monkeypatch.setattr(rules, "padded_products", lambda *args: calls.append(args[3]) or original(*args))
    original_norm = activation_rules.revealcancel_after_scaled_kernel
    monkeypatch.setattr(activation_rules, "revealcancel_after_scaled_kernel",
                        lambda *args, **kwargs: through_norm.append(args[0].kind) or original_norm(*args, **kwargs))
    fused = seqlift.attribute(from_keras(keras_model), sequences, 4, method="revealcancel", task=[0, 1])
    assert len(calls) == 2 * 3 and all(len(pads) == 3 for pads in calls)  # two targets, three convolutions
    assert through_norm == (["relu"] * 3 if norm else [])  # each ReLU's parts made through its norm

    monkeypatch.setattr(ops.Conv, "transpose_padding", lambda self, spatial: None)
    apart = seqlift.attribute(from_keras(keras_model), sequences, 4, method="revealcancel", task=[0, 1])
    assert len(calls) == 6
    np.testing.assert_array_equal(fused.contributions, apart.contributions)
    np.testing.assert_array_equal(fused.hypothetical, apart.hypothetical)
    assert np.abs(fused.contributions).max() > 0


@pytest.mark.parametrize("padding,dilation", [("same", 1), ("valid", 2)])
def test_convolution_below_max_pooling_reads_its_multipliers_from_the_routing_pass_to_the_same_bits(
        monkeypatch, padding, dilation):
    """Conv -> ReLU (Rescale) -> max pooling: the pooling's routing pass makes the convolution's output
    multipliers times the ReLU's in one pass (a tap-grouped first layer's transpose below, then a plain
    one's): the scores' bits are those of the routed multipliers made, then scaled."""
    from model_zoo import randomize

    from seqlift.engine import multipliers, node_rules

    keras.utils.set_random_seed(4)
    x = inputs = keras.Input((48, 4))
    for i, (filters, width) in enumerate([(16, 7), (8, 3)]):
        x = layers.Conv1D(filters, width, padding=padding, dilation_rate=dilation if i else 1, activation="relu",
                          name=f"conv{i}")(x)
        x = layers.MaxPooling1D(2, name=f"pool{i}")(x)
    outputs = layers.Dense(2, name="out")(layers.Flatten()(x))
    keras_model = randomize(keras.Model(inputs, outputs), seed=6)
    sequences = np.eye(4, dtype=np.float32)[np.random.default_rng(1).integers(0, 4, (3, 48))]

    scaled_in_pass = []
    original = node_rules._routed
    monkeypatch.setattr(node_rules, "_routed", lambda *args: scaled_in_pass.append(args[4] is not None)
                        or original(*args))
    fused = seqlift.attribute(from_keras(keras_model), sequences, 4, method="rescale", task=[0, 1])
    assert scaled_in_pass == [True] * 4  # two targets, two poolings, each pass scaled by its ReLU's

    monkeypatch.setattr(multipliers.Multipliers, "scaled",
                        lambda self, factor: multipliers.Multipliers(self.mean * factor))
    apart = seqlift.attribute(from_keras(keras_model), sequences, 4, method="rescale", task=[0, 1])
    assert scaled_in_pass[4:] == [False] * 4
    np.testing.assert_array_equal(fused.contributions, apart.contributions)
    np.testing.assert_array_equal(fused.hypothetical, apart.hypothetical)
    assert np.abs(fused.contributions).max() > 0


def test_equal_activations_are_one_object_and_weighted_ones_their_own():
    from seqlift.model import ops

    assert activation_rules.shared(ops.Activation("relu")) is activation_rules.shared(ops.Activation("relu"))
    assert activation_rules.shared(ops.Activation("relu", max_value=6.0)) is not activation_rules.shared(
        ops.Activation("relu"))
    prelu = ops.Activation("prelu", alpha=np.full(3, 0.1, np.float32))
    assert activation_rules.shared(prelu) is prelu


def test_engine_functions_are_optimized_once_without_the_accelerator_passes_on_a_cpu():
    if tf.config.list_logical_devices("GPU"):
        pytest.skip("the layout and memory optimizers keep their defaults where a GPU is visible")
    config = tf.compat.v1.ConfigProto.FromString(graph_options._engine_call_options().config_proto_serialized)
    rewrite = config.graph_options.rewrite_options
    assert rewrite.meta_optimizer_iterations == Rewriter.ONE
    assert rewrite.layout_optimizer == Rewriter.OFF
    assert rewrite.memory_optimization == Rewriter.NO_MEM_OPT


def test_options_the_user_set_are_kept_and_the_threads_own_restored():
    tf.config.optimizer.set_experimental_options({"layout_optimizer": True})
    try:
        config = tf.compat.v1.ConfigProto.FromString(graph_options._engine_call_options().config_proto_serialized)
        assert config.graph_options.rewrite_options.layout_optimizer == Rewriter.ON
        call = graph_options.with_engine_graph_options(
            tf.function(lambda x: x + 1.0, autograph=False, input_signature=[tf.TensorSpec((None,))]))
        before = context.context().function_call_options
        assert call(tf.constant([1.0])).numpy().tolist() == [2.0]
        assert context.context().function_call_options is before
    finally:
        tf.config.optimizer.set_experimental_options({"layout_optimizer": None})  # back to TensorFlow's default


def _batch_function_library(model) -> set[str]:
    """The names of the functions the model's compiled batch function calls (its graph's library)."""
    names = set()
    for function in model.compiled.values():
        graph = function.__wrapped__.get_concrete_function().graph.as_graph_def()
        names |= {f.signature.name for f in graph.library.function}
    return names


def test_rules_are_compiled_ahead_for_the_batch_pairs_as_the_very_functions_the_batch_calls(monkeypatch):
    monkeypatch.setattr(compile_ahead, "_cores", lambda: 2)
    keras.utils.set_random_seed(3)
    model = from_keras(_relu_tower((3, 5, 7)))
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(3).integers(0, 4, (2, 60))]
    seqlift.attribute(model, x, 3, method="revealcancel")
    library = _batch_function_library(model)
    started = compile_ahead.started()
    pairs = 2 * 3
    for length in (60 - 3, 60 - 3 - 5, 60 - 3 - 5 - 7):  # each ReLU's shape: the batch's pairs, its length
        keys = [k for k in started if k[0].decode() in library and k[1][0] == (pairs, length, 6)]
        assert keys, f"no compilation started for the ReLU of length {length}"
        for key in keys:
            assert started[key].result(timeout=60) is None


def test_every_function_xla_compiles_for_a_batch_is_started_ahead_and_a_cells_sigmoid_runs_as_its_tanh(monkeypatch):
    """A convolution on the one-hot input (its transposes' overlap-add), Dense layers on rows of their own
    (their product's width known to the rule after them) and an LSTM's cell: nothing is left for XLA to
    compile on the first run, and the cell's sigmoid gates share its tanh's compilation."""
    monkeypatch.setattr(compile_ahead, "_cores", lambda: 2)
    keras.utils.set_random_seed(5)
    x_in = keras.Input((40, 4))
    h = layers.Conv1D(24, 5, activation="relu")(x_in)
    h = layers.LSTM(6)(h)
    keras_model = keras.Model(x_in, layers.Dense(2)(layers.Dense(7, activation="relu")(h)))
    model = from_keras(keras_model)
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(5).integers(0, 4, (2, 40))]
    seqlift.attribute(model, x, 3, method="revealcancel")
    compiled = set()
    for function in model.compiled.values():
        graph = function.__wrapped__.get_concrete_function().graph.as_graph_def()
        compiled |= {f.signature.name for f in graph.library.function if f.attr["_XlaMustCompile"].b}
    started = {key[0].decode(): future for key, future in compile_ahead.started().items()}
    assert any("overlap_add" in name for name in compiled)
    assert compiled <= set(started), f"compiled on the first run: {sorted(compiled - set(started))}"
    for name in compiled:
        assert started[name].result(timeout=60) is None
    assert len([name for name in compiled if "_revealcancel_in_cell" in name]) == 1


def test_scores_do_not_depend_on_compiling_ahead(monkeypatch):
    keras.utils.set_random_seed(4)
    keras_model = _relu_tower((2, 6))
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(4).integers(0, 4, (3, 60))]
    scores = {}
    for enabled in (True, False):
        monkeypatch.setattr(compile_ahead, "ENABLED", enabled)
        scores[enabled] = seqlift.attribute(from_keras(keras_model), x, 4, method="revealcancel", seed=1)
    for field in ("contributions", "hypothetical", "deltas"):
        np.testing.assert_array_equal(getattr(scores[True], field), getattr(scores[False], field))


def test_a_rule_is_compiled_ahead_only_when_traced_for_a_batch_on_more_than_one_core(monkeypatch):
    double = compile_ahead.CompiledAhead(tf.function(lambda a: 2.0 * a, jit_compile=True, autograph=False))
    spec = [tf.TensorSpec((None, 7))]

    def new_keys() -> set:
        return {k for k in compile_ahead.started() if k[1] == ((3, 7),)}

    monkeypatch.setattr(compile_ahead, "_cores", lambda: 2)
    tf.function(lambda a: double(a), input_signature=spec, autograph=False).get_concrete_function()
    assert not new_keys()  # traced outside a batch: the rows are unknown
    monkeypatch.setattr(compile_ahead, "_cores", lambda: 1)
    with compile_ahead.rows_of_batch(3):
        tf.function(lambda a: double(a) + 1.0, input_signature=spec, autograph=False).get_concrete_function()
    assert not new_keys()  # one core: the thread would slow the tracing down
    monkeypatch.setattr(compile_ahead, "_cores", lambda: 2)
    with compile_ahead.rows_of_batch(3):
        tf.function(lambda a: double(a) - 1.0, input_signature=spec, autograph=False).get_concrete_function()
    (key,) = new_keys()
    assert compile_ahead.started()[key].result(timeout=60) is None
    assert double(tf.ones((3, 7))).numpy().tolist() == [[2.0] * 7] * 3


def test_shapes_compiled_ahead_read_unknown_rows_as_the_batch_and_skip_other_unknown_axes():
    with tf.Graph().as_default():
        unknown_rows = tf.compat.v1.placeholder(tf.float32, (None, 9, 6))
        unknown_length = tf.compat.v1.placeholder(tf.float32, (None, None, 6))
        known = tf.compat.v1.placeholder(tf.float32, (1, 9, 6))
        assert compile_ahead._concrete_shapes([unknown_rows, "relu", known], 5) == [[5, 9, 6], [1, 9, 6]]
        assert compile_ahead._concrete_shapes([unknown_rows, unknown_length], 5) is None
