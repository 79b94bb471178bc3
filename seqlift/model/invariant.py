"""Kernels whose result for one row does not depend on how many rows are in the batch.

CPU libraries choose their algorithm, and with it the order of floating-point
additions, by the shape of the whole call: a convolution of a batch is one
matrix product over all its positions, a matrix product is cut into tiles by
its number of rows, a batched product of one matrix takes another kernel
than one of several. A sequence's scores would then change in the last bits
with ``batch_size``, or with the shard a sequence falls in. seqlift's Dense,
convolution and product ops are built from the kernels below instead, so
that scores are bit-for-bit the same whatever the batch size, on any CPU:

* :func:`matmul` multiplies in fixed blocks of rows (one batched product
  whose every product has the same shape, at least two of them): of
  :data:`ROW_BLOCK` rows, or of one batch row's positions
  (:func:`pair_block`);
* :func:`convolution` convolves fixed blocks of batch rows, each row's
  positions padded to whole tiles of the library's product
  (:func:`_in_blocks`), or each row on its own (:func:`by_row`): one shape,
  computed the same way every time;
* :func:`einsum` gives a batched product two rows at least;
* :func:`conv_transpose` computes the transpose of a convolution (the map
  from output multipliers to input multipliers) as a forward :func:`convolution`
  of the zero-dilated, padded output with the flipped, channel-swapped kernel;
  for 1-D convolutions with few input channels (the first layer of a DNA
  model), whose transpose has too few output channels for the CPU library to
  run well, as a pointwise forward convolution followed by an overlap-add in
  a fixed order (:func:`_conv_transpose_pointwise`), or, at stride 1 with up
  to 128 filters, as one forward convolution of the kernel's taps in groups
  and a shorter overlap-add (:func:`_tap_grouped`).

Both carry custom gradients, so automatic differentiation through a model
uses the same invariant kernels.

Elementwise functions need care too: TensorFlow's CPU kernels for ``exp``,
``expm1``, ``log``, ``log1p``, ``sigmoid``, ``rsqrt``, ``pow`` and the
activations built on them compute whole vector packets with one
approximation and the leftover elements of a tensor with another, which
round differently, so an element's bits depend on where the tensor ends.
:func:`elementwise` gives every row a whole number of packets.
"""
from __future__ import annotations

import functools
import itertools
import math
from typing import Callable, NamedTuple, Sequence

import tensorflow as tf

from seqlift.model import compile_ahead, derived

#: rows per block of :func:`matmul` for rows of their own (a Dense layer on ``(batch, features)``, a
#: recurrent cell's step); a Dense layer applied at every position of ``(batch, positions, features)`` takes
#: each pair's rows as one block where they are at least this many (:func:`pair_block`)
ROW_BLOCK = 16

#: kernels of at least this many bytes are multiplied block by block (:func:`_block_by_block`), forward through
#: their kept transposed copy (:func:`keep_transpose`, which only their layer makes) as ``(Wᵀ @ xᵀ)ᵀ``: on the
#: DanQ- and DeepSEA-shaped models' wide kernels (48,000 and 50,880 x 925, ~180 MB), 20 rows in 16-row blocks
#: took 30 ms that way against 43 as ``x @ W`` (a 2-core AVX2 CPU with Eigen's kernels); on the 2-core AVX-512
#: machine with oneDNN's, batched, ``x @ (Wᵀ)ᵀ`` took 14.5 against ``x @ W``'s 22.1 ms (2 blocks of 16 rows).
#: Kernels of a few MB run alike either way (2,000 x 1,000: 1.18 against 1.12 ms) and do not pay for the copy
TRANSPOSED_FORWARD_BYTES = 16 * 2**20

#: elements per row that :func:`elementwise` pads each row to a multiple of (a multiple of every CPU
#: vector packet of float32: 4 for SSE, 8 for AVX, 16 for AVX-512)
ROW_ALIGN = 16

#: 1-D convolutions with at most this many input channels (per group) are
#: transposed by :func:`_conv_transpose_pointwise` ...
POINTWISE_MAX_CHANNELS = 4
#: ... and with up to twice as many when they have at least this many filters
#: per input channel (measured: 8 input channels pay from 64 filters on,
#: 16 do not at 320)
POINTWISE_MIN_FILTERS_PER_CHANNEL = 8
#: output channels of :func:`_tap_grouped`'s convolution (its taps grouped so that
#: groups x input channels come to this many; measured best on the 1 kb CNN's and the paper's first layers)
TAP_GROUP_CHANNELS = 16
#: ... for convolutions of at most this many filters: with more (300 to 512) it ran no faster than the
#: pointwise product (batched convolutions on a 2-core AVX-512 CPU; 40 rows of DanQ's 320 x 26 first layer:
#: 11.1 ms against 11.5; DeepSEA's 320 x 8: 6.9 against 4.4; ChromBPNet's 512 x 21 on 2,114 bp: 22.5 against 14.4)
TAP_GROUP_MAX_FILTERS = 128


#: :func:`convolution` of a row whose windows hold at most this many numbers (output positions x taps x input
#: channels) is a product of its windows (:func:`_window_product`), of a larger row a convolution of its own
WINDOW_PRODUCT_MAX = 2**14
#: a larger row whose input and output hold at most this many numbers together (positions x channels) is
#: convolved in blocks of rows (:func:`_in_blocks`), a still larger one on its own (:func:`by_row`): on a
#: 2-core AVX2 CPU (256 rows, median of 11), blocks of 8 took 0.55-0.9 of the loop's time on rows of 10,000
#: to 33,000 numbers (the paper's layers and transposes, the 1 kb CNN's second), 1.1-1.4 on rows of 67,000
#: and 81,000 (the 1 kb CNN's first layer and its transpose) and 1.0-1.2 on Basset's, DeepSEA's and
#: ChromBPNet's wide layers (98,000-270,000), measured when the blocks' padding and cutting copied the rows once more
BLOCK_MAX_NUMBERS = 2**16


def _onednn_kernels() -> bool:
    """Whether TensorFlow runs its oneDNN kernels in this process (its default on CPUs with AVX-512, unless
    ``TF_ENABLE_ONEDNN_OPTS=0``); False where TensorFlow does not say (a private module of its own)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # pragma: no cover - a TensorFlow without it
        return False
    return bool(getattr(_pywrap_util_port, "IsMklEnabled", lambda: False)())


#: batch rows per block of :func:`by_blocks` (the last block padded with zero rows): oneDNN's convolution pays
#: a block's setup more than Eigen's. On a 2-core AMD Zen 4 (AVX-512), the paper's model (256 pairs a batch,
#: median of 5 in one process): with oneDNN, Rescale 0.55 s in blocks of 8, 0.49 of 16, 0.48 of 32, 0.52 of
#: 64, RevealCancel 0.98, 0.93, 0.90, 1.03 s (cnn1kb 0.96x with 32, the attention model 1.00x); with Eigen's
#: kernels (oneDNN off) blocks of 32 took 1.03x (Rescale) and 1.06x (RevealCancel) the time of 8
BLOCK_ROWS = 32 if _onednn_kernels() else 8
#: where TensorFlow runs oneDNN's kernels, a row of more than :data:`BLOCK_MAX_NUMBERS` numbers and at most this
#: many is convolved in blocks of :data:`WIDE_BLOCK_ROWS` rows rather than on its own, unless the convolution is
#: dilated. On a 2-core AMD Zen 4 (median of 5 in one process, against the loop over rows): RevealCancel on
#: DeepSEA (rows of 80,000-322,000 numbers) 2.57 -> 2.20x the floor (blocks of 4: 2.43x), Basset 2.30 -> 2.05x,
#: cnn1kb 1.89 -> 1.68x; Rescale on Basset 1.13 -> 1.07x, DeepSEA and DanQ alike; ChromBPNet's dilated layers
#: lost (RevealCancel 2.00 -> 2.51x), so they keep the loop. With Eigen's kernels blocks of 8 took 1.0-1.2x
#: the loop's time on such rows (above), so there a row of more than :data:`BLOCK_MAX_NUMBERS` goes on its own
WIDE_BLOCK_MAX_NUMBERS = 2**19 if _onednn_kernels() else BLOCK_MAX_NUMBERS
#: batch rows per block of a row of more than :data:`BLOCK_MAX_NUMBERS` numbers (see :data:`WIDE_BLOCK_MAX_NUMBERS`)
WIDE_BLOCK_ROWS = 8
#: :func:`_aligned_convolution` pads each row's output positions to a multiple of this (three vector packets of
#: AVX-512's float32, six of AVX2's): Eigen multiplies the block's positions in tiles of up to three
#: packets and computes the last, shorter tile otherwise, so without it the block's last row got other bits
#: in one place than another (2 of 15 zoo shapes on a 2-core AVX2 CPU, 0 with it). oneDNN's convolutions loop
#: over a block's rows and tile each row's positions on their own, so there the positions stay as they are
#: (1): on a 2-core AMD Zen 4, every row of 156 blocks (78 random 1-D and 2-D shapes, 1x1 kernels, strides and
#: dilations among them, in blocks of 8 and 32 rows) had the same bits alone, first, last and shifted by one
#: place; the paper's RevealCancel took 0.868 s against 0.892 padded to 48 (median of 7 in one process), the
#: output no longer cut in each block
POSITION_ALIGN = 1 if _onednn_kernels() else 48
#: blocks :func:`_in_blocks` computes at once (iterations of its loop in flight)
BLOCKS_IN_FLIGHT = 2
#: batch rows :func:`by_row` computes at once (iterations of its loop in flight): with 4, eight zoo-shaped
#: convolutions ran 0.95-1.9x as long as one batched convolution on a 2-core AVX2 CPU (median 1.25), with 1
#: 1.1-3.3x
ROWS_IN_FLIGHT = 4


def by_row(fn: Callable[[tf.Tensor], tf.Tensor], x: tf.Tensor) -> tf.Tensor:
    """``fn`` (a map of a batch, row by row) applied to each batch row of ``x`` on its own, as a batch of one.

    A CPU library computes one shape the same way every time, so a row's
    result is then the same in any batch and at any place in it; the rows
    are a loop's iterations, :data:`ROWS_IN_FLIGHT` at a time. Automatic
    differentiation goes through the loop row by row too.
    """
    return tf.map_fn(lambda row: fn(row[tf.newaxis])[0], x, parallel_iterations=ROWS_IN_FLIGHT,
                     fn_output_signature=x.dtype)


def by_row_together(fn: Callable[[tf.Tensor, tf.Tensor], tf.Tensor], inputs: Sequence[tf.Tensor],
                    operands: Sequence[tf.Tensor]) -> list[tf.Tensor]:
    """:func:`by_row` of each of ``inputs`` (rows of one shape, as many or not) in one loop over the rows of
    all, ``fn(rows, operands[i])`` on the rows of ``inputs[i]`` (operands of one shape, such as a layer's
    kernel and ``|kernel|``): one loop's graph is built and optimised instead of one per input (~40-50 ms
    of a first call each on a 2-core CPU), and each row is the same batch of one as alone."""
    ends = list(itertools.accumulate(tf.shape(x)[0] for x in inputs))
    starts = [tf.constant(0), *ends[:-1]]
    rows = tf.TensorArray(inputs[0].dtype, size=ends[-1], element_shape=inputs[0].shape[1:])
    for x, start, end in zip(inputs, starts, ends):
        rows = rows.scatter(tf.range(start, end), x)
    if all(k is operands[0] for k in operands):
        def operand(t: tf.Tensor) -> tf.Tensor:
            return operands[0]
    else:
        stacked = tf.stack(operands)

        def operand(t: tf.Tensor) -> tf.Tensor:
            return tf.gather(stacked, tf.add_n([tf.cast(t >= end, tf.int32) for end in ends[:-1]]))

    def body(t: tf.Tensor, out: tf.TensorArray) -> tuple[tf.Tensor, tf.TensorArray]:
        return t + 1, out.write(t, tf.squeeze(fn(tf.expand_dims(rows.read(t), 0), operand(t)), 0))

    total = ends[-1]
    _, out = tf.while_loop(lambda t, _: t < total, body,
                           (tf.constant(0), tf.TensorArray(inputs[0].dtype, size=total)),
                           parallel_iterations=ROWS_IN_FLIGHT)
    return [out.gather(tf.range(start, end)) for start, end in zip(starts, ends)]


def by_row_zipped(fn: Callable[..., Sequence[tf.Tensor]], inputs: Sequence[tf.Tensor], outputs: int
                  ) -> list[tf.Tensor]:
    """``fn`` of the same row of each of ``inputs`` (as many rows each), every row a batch of one, in one loop
    over the rows: ``fn`` gives ``outputs`` tensors of a row, and each is the same whatever the batch
    (:func:`by_row`)."""
    total = tf.shape(inputs[0])[0]

    def body(t: tf.Tensor, outs: tuple[tf.TensorArray, ...]) -> tuple[tf.Tensor, tuple[tf.TensorArray, ...]]:
        values = fn(*[tf.expand_dims(x[t], 0) for x in inputs])
        return t + 1, tuple(out.write(t, tf.squeeze(value, 0)) for out, value in zip(outs, values))

    empty = tuple(tf.TensorArray(inputs[0].dtype, size=total) for _ in range(outputs))
    _, outs = tf.while_loop(lambda t, _: t < total, body, (tf.constant(0), empty), parallel_iterations=ROWS_IN_FLIGHT)
    return [out.stack() for out in outs]


def convolution(x: tf.Tensor, kernel: tf.Tensor, strides: Sequence[int] | int = 1, padding: str = "VALID",
                dilations: Sequence[int] | int = 1, pads: Sequence[Sequence[int]] | None = None) -> tf.Tensor:
    """``tf.nn.convolution`` of ``x`` ``(batch, *spatial, channels)`` with ``kernel``, each batch row
    computed alike; ``pads``, where given, the zeros (left, right) read around ``x`` on each spatial axis
    in place of ``padding``'s (a block's convolution reads them as its explicit padding, never written).

    A CPU library convolves a batch as one matrix product whose rows are the
    batch's positions (Eigen's kernels) or picks its algorithm by the whole
    call's shape (oneDNN's), so a row's bits depend on the other rows: on a
    2-core AVX2 CPU the batched convolution gave some rows other bits alone
    than in a batch on every one of 9 zoo and test shapes tried (first
    layers, Basset's and DeepSEA's 300-480-filter layers, ChromBPNet's
    dilated ones), with oneDNN's kernels as with Eigen's. Here
    (:func:`convolution_path`) a row whose windows hold at most
    :data:`WINDOW_PRODUCT_MAX` numbers (a small layer) is convolved as the
    batched product of its windows with the kernel (:func:`_window_product`);
    beyond, copying its windows would cost more than a loop (on the 2-core
    AVX2 CPU the windows' product took 0.54-0.96 ms against the loop's
    0.87-2.4 on rows of 72-400 numbers, 3.8 against 4.4 on 11,160, the
    paper's first layer, 7-72 against 4-36 on 68,000-627,000), so a larger
    row is convolved in blocks of :data:`BLOCK_ROWS` rows (:func:`_in_blocks`)
    where its input and output hold at most :data:`BLOCK_MAX_NUMBERS`, of
    :data:`WIDE_BLOCK_ROWS` up to :data:`WIDE_BLOCK_MAX_NUMBERS` (oneDNN's
    kernels, undilated), and on its own (:func:`by_row`) beyond.
    """
    rank = kernel.shape.rank - 2
    strides, dilations = (_per_axis(v, rank) for v in (strides, dilations))
    path, geometry, block = _path_of(x, kernel, strides, padding, dilations, pads)
    if path == "windows":
        return _window_product(x, kernel, strides, dilations, geometry)
    if path == "blocks":
        return _in_blocks(x, kernel, strides, dilations, geometry, block)
    return by_row(lambda row: _convolved_row(row, kernel, strides, padding, dilations, pads), x)


def _convolved_row(row: tf.Tensor, kernel: tf.Tensor, strides: list[int], padding: str, dilations: list[int],
                   pads: Sequence[Sequence[int]] | None) -> tf.Tensor:
    """``tf.nn.convolution`` of a row (or rows) with ``padding``, or padded by ``pads`` where given."""
    if pads is not None:
        row, padding = tf.pad(row, [[0, 0], *pads, [0, 0]]), "VALID"
    return tf.nn.convolution(row, kernel, strides=strides, padding=padding, dilations=dilations)


def convolutions(inputs: Sequence[tf.Tensor], kernels: Sequence[tf.Tensor], strides: Sequence[int] | int = 1,
                 padding: str = "VALID", dilations: Sequence[int] | int = 1,
                 pads: Sequence[Sequence[int]] | None = None) -> list[tf.Tensor]:
    """:func:`convolution` of each of ``inputs`` (rows of one shape) with its kernel of ``kernels`` (of one
    shape), each the same bits as alone: where rows are convolved one by one, in one loop over the rows of
    all (:func:`by_row_together`)."""
    kernel = kernels[0]
    rank = kernel.shape.rank - 2
    strides, dilations = (_per_axis(v, rank) for v in (strides, dilations))
    path, geometry, _ = _path_of(inputs[0], kernel, strides, padding, dilations, pads)
    if len(inputs) == 1 or path != "rows" or geometry is None:
        return [convolution(x, k, strides, padding, dilations, pads) for x, k in zip(inputs, kernels)]
    values = by_row_together(lambda row, k: _convolved_row(row, k, strides, padding, dilations, pads), inputs,
                             kernels)
    return _with_output_shape(values, geometry, kernel)


def _with_output_shape(values: list[tf.Tensor], geometry: Sequence[tuple[int, int, int]], kernel: tf.Tensor
                       ) -> list[tf.Tensor]:
    """``values`` (a row loop's outputs, whose static shape the loop loses) given their convolution's
    static shape: rows unknown, ``geometry``'s output lengths, ``kernel``'s filters."""
    for value in values:
        value.set_shape([None, *[out for _, _, out in geometry], kernel.shape[-1]])
    return values


def _path_of(x: tf.Tensor, kernel: tf.Tensor, strides: list[int], padding: str, dilations: list[int],
             pads: Sequence[Sequence[int]] | None = None) -> tuple[str, list | None, int]:
    """:func:`convolution_path` of ``x``'s rows, each spatial axis's left and right padding and output
    length (:func:`conv_padding`'s, or ``pads``' where given; ``'rows'`` and None where the rows' shape is
    not known) and the rows per block of the blocks' path (:func:`rows_per_block`)."""
    spatial = x.shape[1:-1]
    if not spatial.is_fully_defined() or x.shape[-1] is None:
        return "rows", None, 1
    if pads is None:
        geometry = [conv_padding(int(spatial[axis]), int(kernel.shape[axis]), strides[axis], dilations[axis],
                                 padding.lower()) for axis in range(len(strides))]
    else:
        geometry = [(left, right, output_length(int(spatial[axis]), int(kernel.shape[axis]), strides[axis],
                                                dilations[axis], left, right)) for axis, (left, right) in enumerate(pads)]
    shape = (spatial.num_elements() * int(x.shape[-1]), [out for _, _, out in geometry], kernel.shape)
    return convolution_path(*shape, dilated=any(d != 1 for d in dilations)), geometry, rows_per_block(*shape)


def convolution_path(row_inputs: int, outputs: Sequence[int], kernel_shape: Sequence[int], dilated: bool = False
                     ) -> str:
    """How :func:`convolution` computes a row of ``row_inputs`` numbers (positions x channels) giving
    ``outputs`` positions per spatial axis with a kernel of ``kernel_shape`` (``dilated`` or not):
    ``'windows'`` (a row's windows hold at most :data:`WINDOW_PRODUCT_MAX` numbers), ``'blocks'`` (its
    input and output at most :data:`BLOCK_MAX_NUMBERS`, or :data:`WIDE_BLOCK_MAX_NUMBERS` undilated) or
    ``'rows'``."""
    if math.prod(outputs) * math.prod(kernel_shape[:-1]) <= WINDOW_PRODUCT_MAX:
        return "windows"
    limit = BLOCK_MAX_NUMBERS if dilated else WIDE_BLOCK_MAX_NUMBERS
    return "blocks" if _row_numbers(row_inputs, outputs, kernel_shape) <= limit else "rows"


def rows_per_block(row_inputs: int, outputs: Sequence[int], kernel_shape: Sequence[int]) -> int:
    """Batch rows per block where :func:`convolution` computes such rows in blocks: :data:`BLOCK_ROWS`, or
    :data:`WIDE_BLOCK_ROWS` for rows of more than :data:`BLOCK_MAX_NUMBERS` numbers (input and output)."""
    return BLOCK_ROWS if _row_numbers(row_inputs, outputs, kernel_shape) <= BLOCK_MAX_NUMBERS else WIDE_BLOCK_ROWS


def _row_numbers(row_inputs: int, outputs: Sequence[int], kernel_shape: Sequence[int]) -> int:
    """Numbers a row's convolution reads and writes: its ``row_inputs`` and its outputs' positions x filters."""
    return row_inputs + math.prod(outputs) * int(kernel_shape[-1])


def _in_blocks(x: tf.Tensor, kernel: tf.Tensor, strides: Sequence[int], dilations: Sequence[int],
               geometry: Sequence[tuple[int, int, int]], block: int) -> tf.Tensor:
    """:func:`convolution` as a loop over blocks of ``block`` batch rows (:func:`by_blocks`), each block one
    batched convolution of one shape, every row's output positions padded to a multiple of
    :data:`POSITION_ALIGN` (:func:`_aligned_convolution`). ``geometry``: :func:`conv_padding`'s left and
    right padding and output length per spatial axis."""
    convolve = _aligned_convolution(kernel, strides, dilations, geometry)
    return by_blocks(lambda rows: [convolve(rows)], [x], 1, geometry, kernel, block)[0]


def by_blocks(fn: Callable[..., Sequence[tf.Tensor]], inputs: Sequence[tf.Tensor], outputs: int,
              geometry: Sequence[tuple[int, int, int]], kernel: tf.Tensor, block: int) -> list[tf.Tensor]:
    """``fn`` of blocks of ``block`` rows of each of ``inputs`` (as many rows each), in a loop over
    the blocks: ``fn`` gives ``outputs`` convolutions of ``kernel``'s filters (:func:`_aligned_convolution`'s
    of ``geometry``, extra positions and all), each cut to the block's rows and ``geometry``'s positions.

    The CPU library computes a call of one shape the same way every time, so
    a block's result depends on its rows' data only; within the block a
    row's positions fill whole tiles of the library's matrix product
    (:data:`POSITION_ALIGN`), so every row is computed alike wherever it
    sits. Each block is read in place from the inputs, the last padded with
    zero rows, and cut in the cache: on the paper's second layer, padding
    the whole batch first and cutting the whole output after took a fifth
    of the loop's time (copies run at ~2 GB/s on a 2-core machine).
    """
    outs = [out for _, _, out in geometry]
    filters = int(kernel.shape[-1])
    rows = tf.shape(inputs[0])[0]
    count = tf.math.floordiv(rows + block - 1, block)
    whole_rows = [[0, 0]] * (inputs[0].shape.rank - 1)

    def body(i: tf.Tensor, results: tuple[tf.TensorArray, ...]) -> tuple[tf.Tensor, tuple[tf.TensorArray, ...]]:
        blocks = [x[i * block:(i + 1) * block] for x in inputs]  # leading rows: read in place
        kept = tf.shape(blocks[0])[0]
        blocks = [tf.pad(part, [[0, block - kept], *whole_rows]) for part in blocks]  # a whole one: no copy
        values = fn(*blocks)
        return i + 1, tuple(out.write(i, value[:kept, ..., :outs[-1], :]) for out, value in zip(results, values))

    empty = tuple(tf.TensorArray(inputs[0].dtype, size=count, element_shape=[None, *outs, filters], infer_shape=False)
                  for _ in range(outputs))
    _, results = tf.while_loop(lambda i, _: i < count, body, (tf.constant(0), empty),
                               parallel_iterations=BLOCKS_IN_FLIGHT)
    values = [result.concat() for result in results]
    return _with_output_shape(values, geometry, kernel)


def _aligned_convolution(kernel: tf.Tensor, strides: Sequence[int], dilations: Sequence[int],
                         geometry: Sequence[tuple[int, int, int]]) -> Callable[[tf.Tensor], tf.Tensor]:
    """The convolution of a block of rows with ``kernel``, padded by ``geometry``'s left and right padding and,
    on the last spatial axis, until the positions per row are a multiple of :data:`POSITION_ALIGN`: Eigen
    multiplies a block's positions in tiles of up to three packets and computes the last, shorter tile
    otherwise, so without it the block's last row got other bits in one place than another."""
    outs = [out for _, _, out in geometry]
    step = POSITION_ALIGN // math.gcd(math.prod(outs[:-1]), POSITION_ALIGN)
    extra = -outs[-1] % step  # output positions added on the last axis (its input padded by extra x stride)
    spatial = [[left, right] for left, right, _ in geometry]
    spatial[-1][1] += extra * strides[-1]
    return _padded(kernel, strides, dilations, spatial)


def _padded(kernel: tf.Tensor, strides: Sequence[int], dilations: Sequence[int], spatial: Sequence[Sequence[int]]
            ) -> Callable[[tf.Tensor], tf.Tensor]:
    """The convolution of a block ``(rows, *spatial, channels)`` with ``kernel``, its spatial axes padded with
    zeros by ``spatial`` (left and right per axis): undilated 1-D and 2-D convolutions as one ``Conv2D`` whose
    explicit padding reads the zeros without writing them (with Eigen's kernels the same bits as the padded
    block's; oneDNN's may block the sums otherwise, which rounds otherwise, alike in every block), others
    as the convolution of the padded block."""
    rank = len(spatial)
    if rank > 2 or any(d != 1 for d in dilations):
        return lambda block: tf.nn.convolution(tf.pad(block, [[0, 0], *spatial, [0, 0]]), kernel, strides=strides,
                                               padding="VALID", dilations=dilations)
    if rank == 2:
        return lambda block: tf.nn.conv2d(block, kernel, [1, *strides, 1], [[0, 0], *spatial, [0, 0]])
    flat = kernel[tf.newaxis]
    return lambda block: tf.squeeze(tf.nn.conv2d(tf.expand_dims(block, 1), flat, [1, 1, strides[0], 1],
                                                 [[0, 0], [0, 0], spatial[0], [0, 0]]), 1)


def _per_axis(value: Sequence[int] | int, rank: int) -> list[int]:
    """A stride or dilation (an int, or one per spatial axis, or one for all as ``tf.nn.convolution`` takes
    it) as one int per spatial axis."""
    values = [int(value)] if isinstance(value, int) else [int(v) for v in value]
    return values * rank if len(values) == 1 else values


def _window_product(x: tf.Tensor, kernel: tf.Tensor, strides: Sequence[int], dilations: Sequence[int],
                    geometry: Sequence[tuple[int, int, int]]) -> tf.Tensor:
    """:func:`convolution` as a product of windows (im2col): ``y[o, f] = Σ_(t, c) X[o, (t, c)] W[(t, c), f]``,
    ``X[o, (t, c)] = x[o s + t d − p_l, c]`` (per spatial axis; ``x`` zero outside), one matrix product per
    batch row, two rows at least (:func:`_two_rows_at_least`). ``geometry``: :func:`conv_padding`'s left and
    right padding and output length per spatial axis."""
    rank = len(geometry)
    x = tf.pad(x, [[0, 0], *([left, right] for left, right, _ in geometry), [0, 0]])
    ends = (1 << (rank + 1)) | 1  # the batch and channel axes whole
    windows = []
    for tap in itertools.product(*(range(int(n)) for n in kernel.shape[:rank])):
        begin = [t * d for t, d in zip(tap, dilations)]
        end = [b + (out - 1) * s + 1 for b, s, (_, _, out) in zip(begin, strides, geometry)]
        windows.append(tf.strided_slice(x, [0, *begin, 0], [0, *end, 0], [1, *strides, 1],
                                        begin_mask=ends, end_mask=ends))
    outs = [out for _, _, out in geometry]
    depth, filters = kernel.shape[:-1].num_elements(), int(kernel.shape[-1])
    rows = tf.shape(x)[0]
    columns = tf.reshape(tf.concat(windows, axis=-1), [rows, -1, depth])
    product = tf.matmul(_two_rows_at_least(columns), tf.reshape(kernel, [depth, filters]))[:rows]
    return tf.reshape(product, [rows, *outs, filters])


def _two_rows_at_least(t: tf.Tensor) -> tf.Tensor:
    """``t`` with zero rows added at the end of its batch axis up to two (nothing added to two or more, free):
    TensorFlow's batched matrix product computes every product of a batch of several the same way, but a
    batch of one by another kernel (threads within the product rather than across rows), which rounds
    otherwise."""
    missing = tf.maximum(2 - tf.shape(t)[0], 0)
    return tf.pad(t, tf.concat([[[0, missing]], tf.zeros([t.shape.rank - 1, 2], tf.int32)], 0))


def _one_row_more(t: tf.Tensor) -> tf.Tensor:
    """``t`` with one zero row added at the end of its batch axis (padding given as a constant)."""
    return tf.pad(t, [[0, 1]] + [[0, 0]] * (t.shape.rank - 1))


def _pointwise_pays(channels: int, filters: int) -> bool:
    """Whether :func:`_conv_transpose_pointwise` beats the plain transpose (measured on a 2-core AVX-512 CPU)."""
    return channels <= POINTWISE_MAX_CHANNELS or (
        channels <= 2 * POINTWISE_MAX_CHANNELS and filters >= POINTWISE_MIN_FILTERS_PER_CHANNEL * channels
    )


def _blocked_matmul(x: tf.Tensor, kernel: tf.Tensor, transpose_kernel: bool = False,
                    block: int = ROW_BLOCK) -> tf.Tensor:
    """``x @ kernel`` (``kernelᵀ`` with ``transpose_kernel``) for ``x`` ``(rows, K)``, as one batched
    product of blocks of ``block`` rows, at least two (padded with zero rows): TensorFlow multiplies a
    batch of one small block by another kernel than a batch of several, which rounds some rows
    differently (the first 1 to 3 rows of a 4 x 128 kernel, in 16-row blocks). Written with few
    operations: a recurrent layer builds several in every step's graph, and tracing costs per
    operation. The padding ``[[0, max((−rows) mod block, 2 block − rows)], [0, 0]]`` (three
    operations) and the kept size ``[rows, −1]`` (one) come from the shape ``[rows, K]``. A wide kernel's
    blocks, multiplied one by one (:func:`_block_by_block`), need no second block: ``(−rows) mod block``."""
    width = _static_or_dynamic(x, 1)
    if not isinstance(width, int):
        x = tf.ensure_shape(x, [None, int(kernel.shape[1 if transpose_kernel else 0])])
        width = int(x.shape[1])
    shape = tf.shape(x)
    wide = is_wide(kernel)
    missing = tf.math.floormod(-shape, [block, width])
    if not wide:
        missing = tf.maximum(missing, [2 * block, 0] - shape)
    blocks = tf.reshape(tf.pad(x, tf.stack([[0, 0], missing], axis=1)), [-1, block, width])
    if wide:
        product = _block_by_block(blocks, kernel, transpose_kernel)
    else:
        product = tf.matmul(blocks, kernel, transpose_b=transpose_kernel)
    flat = tf.reshape(product, [-1, _static_or_dynamic(kernel, 0 if transpose_kernel else 1)])
    return tf.slice(flat, [0, 0], shape - [0, width + 1])


def _block_by_block(blocks: tf.Tensor, kernel: tf.Tensor, transpose_kernel: bool) -> tf.Tensor:
    """``blocks @ kernel`` (``kernelᵀ`` with ``transpose_kernel``) for ``blocks`` ``(n, block, K)`` and a
    wide kernel (:func:`is_wide`): a loop of plain matrix products, one block after another, each of one
    shape and so computed alike; ``b @ kernelᵀ`` as ``(kernel @ bᵀ)ᵀ``, the kernel read row by row.

    TensorFlow's batched product of several blocks by one broadcast matrix ran
    each block twice as long as the plain product of one (DanQ's 48,000 x 925
    on a 2-core AVX2 CPU with Eigen's kernels: 33 against 16.5 ms a 16-row
    block), and a kernel read transposed costs as much again (20 rows,
    forward through the kept ``Wᵀ``: 125 ms batched, 30 ms here; the
    transpose ``g @ Wᵀ``: 50 against 29 ms; the plain gradient's products of
    the same 20 rows: 22-31 and 19-36 ms). The bits are the batched
    product's for ``b @ kernel`` and each row's own whatever the batch, as
    the tests check.
    """
    if transpose_kernel:
        def one(block: tf.Tensor) -> tf.Tensor:
            return tf.transpose(tf.matmul(kernel, block, transpose_b=True))
    else:
        def one(block: tf.Tensor) -> tf.Tensor:
            return tf.matmul(block, kernel)
    return tf.map_fn(one, blocks, parallel_iterations=1, fn_output_signature=blocks.dtype)


def _static_or_dynamic(t: tf.Tensor, axis: int) -> int | tf.Tensor:
    """The length of ``t`` along ``axis``: a Python int where the static shape knows it."""
    known = t.shape[axis]
    return int(known) if known is not None else tf.shape(t)[axis]


def keep_transpose(kernel: tf.Tensor) -> None:
    """Keep ``kernelᵀ`` beside a constant ``kernel`` now (:func:`~seqlift.model.derived.derived`): a layer
    does so for its own kernel as it is built, so that a wide kernel's copy (:func:`_kept_transpose`) is
    made with the model, not in its first call."""
    derived.derived(kernel, "transposed", tf.transpose)


def _kept_transpose(kernel: tf.Tensor) -> tf.Tensor | None:
    """``kernelᵀ`` kept beside a constant ``kernel``, or None.

    Both :func:`matmul` and :func:`matmul_transposed` multiply a plain matrix
    through it where they can: with the kernel read transposed
    (``transpose_b``), TensorFlow's product packs it again in every block, and
    ``g @ kernelᵀ`` ran 1.7-2.8x as long as ``g @ (a kept kernelᵀ)``, with the
    same bits, on every Dense and recurrent kernel of the zoo (2-core AVX2
    CPU; an LSTM step's 320 x 1,280 for 60 rows: 4.7 against 1.7 ms). A copy
    is made on first use for a kernel under :data:`TRANSPOSED_FORWARD_BYTES`;
    a wider one has it only where its layer kept it (:func:`keep_transpose`):
    a 177 MB copy made in a first call cost that call 0.45 s. None for a
    tensor of a graph being traced.
    """
    if not isinstance(kernel, tf.__internal__.EagerTensor):
        return None
    if is_wide(kernel) and not derived.is_kept(kernel, "transposed"):
        return None
    return derived.derived(kernel, "transposed", tf.transpose)


def is_wide(kernel: tf.Tensor) -> bool:
    """Whether ``kernel`` holds at least :data:`TRANSPOSED_FORWARD_BYTES`."""
    return kernel.shape.num_elements() * kernel.dtype.size >= TRANSPOSED_FORWARD_BYTES


def matmul(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """``x @ kernel`` over the last axis of ``x``, each row computed alike.

    A wide kernel (:data:`TRANSPOSED_FORWARD_BYTES`) with a kept transpose
    (:func:`keep_transpose`) is multiplied as ``x @ (kernelᵀ)ᵀ``.

    Parameters
    ----------
    x
        ``(..., K)``; the leading axes are flattened into rows.
    kernel
        ``(K, N)``.

    Returns
    -------
    tf.Tensor
        ``(..., N)``. Its gradient with respect to ``x`` is ``g @ kernelᵀ``
        (:func:`matmul_transposed`).
    """
    transposed = _kept_transpose(kernel)
    wide = is_wide(kernel)
    # tensors of the graph being built (constants captured here): the gradient, built later and perhaps
    # inside a loop's gradient, must not capture the constants themselves
    kernel = tf.convert_to_tensor(kernel)
    transposed = None if transposed is None else tf.convert_to_tensor(transposed)

    def forward(rows: tf.Tensor, block: int) -> tf.Tensor:
        if wide and transposed is not None:
            return _blocked_matmul(rows, transposed, True, block)
        return _blocked_matmul(rows, kernel, block=block)

    @tf.custom_gradient
    def product(inputs: tf.Tensor) -> tf.Tensor:
        out = _on_rows(inputs, forward, kernel.shape[1])

        def grad(g: tf.Tensor) -> tf.Tensor:
            return _transposed_product(g, kernel, transposed)

        return out, grad

    return product(x)


def matmul_transposed(g: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """``g @ kernelᵀ`` over the last axis of ``g`` (``kernel`` ``(K, N)``, ``g`` ``(..., N)``), each row
    computed alike: the transpose of :func:`matmul`, its gradient; through the kernel's kept transpose
    where it has one (:func:`_kept_transpose`)."""
    return _transposed_product(g, kernel, _kept_transpose(kernel))


def _transposed_product(g: tf.Tensor, kernel: tf.Tensor, transposed: tf.Tensor | None) -> tf.Tensor:
    """``g @ kernelᵀ``: ``g @ transposed`` where it is given, else the kernel read transposed."""
    operand, read_transposed = (kernel, True) if transposed is None else (transposed, False)
    return _on_rows(g, lambda rows, block: _blocked_matmul(rows, operand, read_transposed, block), kernel.shape[0])


def pair_block(shape: tf.TensorShape) -> int:
    """Rows per block of :func:`matmul` on ``x`` of ``shape`` ``(batch, …, K)``: one row of the batch's
    rows (``∏`` of the axes between), where they are known and at least :data:`ROW_BLOCK`; else
    :data:`ROW_BLOCK`.

    TensorFlow's batched product computes each block as a matrix product of
    its own, whose setup (the kernel packed again) dominates small blocks: on
    the attention model's 128 x 128 projections (60,000 rows), 16-row blocks
    took 55-85 ms a call and one unblocked product 15-25 (an AVX2 CPU). A
    row's bits may depend on its place in the block (the CPU library
    computes a block's rows in tiles of up to three vector packets, and the
    tiles of one packet round otherwise: on an AVX2 CPU, blocks of 32 and 128
    rows, whose last 8 rows are such a tile, moved some rows' bits with the
    batch, blocks of 64 and 256 did not); with one batch row per block, every
    row keeps its place whatever the batch, on any CPU. The 16-row blocks
    have always given every row the same bits (batch sizes 1 to 1,000 in the
    tests, on AVX2 and AVX-512 CPUs).
    """
    inner = shape[1:-1]
    per_row = inner.num_elements() if inner.is_fully_defined() else None
    return per_row if per_row is not None and per_row >= ROW_BLOCK else ROW_BLOCK


def _on_rows(x: tf.Tensor, product: Callable[[tf.Tensor, int], tf.Tensor], width: int | None) -> tf.Tensor:
    """``product`` of ``x``'s rows ``(rows, K) -> (rows, width)`` in blocks of :func:`pair_block` rows, its
    leading axes flattened into rows and restored after; the result's static shape says ``width`` (the
    blocks' cut does not: a rule fed by it would not know its shape to be compiled ahead, before its first
    run)."""
    if x.shape.rank == 2:
        out = product(x, ROW_BLOCK)
    else:
        flat = product(tf.reshape(x, [-1, _static_or_dynamic(x, -1)]), pair_block(x.shape))
        out = tf.reshape(flat, tf.concat([tf.shape(x)[:-1], [width if width is not None else tf.shape(flat)[-1]]], 0))
    out.set_shape(x.shape[:-1].concatenate([width]))
    return out


def einsum(equation: str, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """``tf.einsum(equation, a, b)`` for operands and a result whose first axis is the batch (the equation's
    first letter, first in all three), each batch row computed alike.

    TensorFlow computes such a product as one small matrix product per batch
    row, each the same way whatever their number, except for a batch of one,
    which it multiplies by another kernel (threads within the product rather
    than across rows): on a 2-core AVX2 CPU attention's query-key product
    gave a row other bits alone than in a batch. The operands get one zero
    row more, so two at least, cut off the result: with constant padding, in
    fewer operations than :func:`_two_rows_at_least` (building the graph costs
    ~0.3 ms an operation on a 2-core CPU, and the first call builds 40 of
    these products on the attention model).

    Its gradient is two such products, ``g`` with each operand (where every
    letter of the other operand is in the result or this one, as in
    attention's products and ``Dot``): TensorFlow's own gradient would
    differentiate the padding and its cutting too, whose gradient writes the
    whole result once more (the attention model: ~5 % of a pass).
    """
    inputs, output = equation.split("->")
    first, second = inputs.split(",")

    def product(x: tf.Tensor, y: tf.Tensor, formula: str) -> tf.Tensor:
        return tf.einsum(formula, _one_row_more(x), _one_row_more(y))[:-1]

    if not (set(first) <= set(output) | set(second) and set(second) <= set(output) | set(first)):
        return product(a, b, equation)

    @tf.custom_gradient
    def invariant_product(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        def grad(g: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            return (product(g, y, f"{output},{second}->{first}"), product(g, x, f"{output},{first}->{second}"))

        return product(x, y, equation), grad

    return invariant_product(a, b)


def elementwise(fn: Callable[..., tf.Tensor], *tensors: tf.Tensor) -> tf.Tensor:
    """``fn(*tensors)`` for an elementwise ``fn``, each row's result not depending on the batch.

    The tensors (one shape, rows on axis 0) are flattened to one row each and
    padded with zeros to a multiple of :data:`ROW_ALIGN` elements, so
    TensorFlow's vectorised kernels compute every element in whole packets
    (their thread ranges are packet-aligned), whatever the number of rows;
    the padding is cut off after. Rows already a multiple long (known from
    the static shape) are passed as they are.
    """
    shape = tensors[0].shape
    per_row = shape[1:].num_elements() if shape.rank else None
    if shape.rank is None or shape.rank < 2 or (per_row is not None and per_row % ROW_ALIGN == 0):
        return fn(*tensors)
    dynamic = tf.shape(tensors[0])
    rows, size = dynamic[0], tf.reduce_prod(dynamic[1:])
    pad = (-size) % ROW_ALIGN
    flat = [tf.pad(tf.reshape(t, tf.stack([rows, size])), [[0, 0], [0, pad]]) for t in tensors]
    return tf.reshape(fn(*flat)[:, :size], dynamic)


def conv_padding(
    length: int, kernel: int, stride: int, dilation: int, padding: str
) -> tuple[int, int, int]:
    """Left and right padding and output length of one spatial axis of a convolution.

    ``valid`` pads nothing; ``causal`` pads ``dilation (kernel − 1)`` on the
    left; ``same`` pads as TensorFlow does, ``total = max((out − 1) stride +
    (kernel − 1) dilation + 1 − length, 0)`` with ``out = ⌈length / stride⌉``,
    ``total // 2`` on the left and the rest on the right.
    """
    span = (kernel - 1) * dilation + 1
    if padding == "same":
        out = -(-length // stride)
        total = max((out - 1) * stride + span - length, 0)
        return total // 2, total - total // 2, out
    left = span - 1 if padding == "causal" else 0
    return left, 0, output_length(length, kernel, stride, dilation, left, 0)


def output_length(length: int, kernel: int, stride: int, dilation: int, left: int, right: int) -> int:
    """Output positions of one spatial axis of a convolution of ``length`` positions padded by ``left`` and
    ``right`` zeros: ``(length + left + right − span) // stride + 1``, ``span = (kernel − 1) dilation + 1``."""
    return (length + left + right - (kernel - 1) * dilation - 1) // stride + 1


def _dilate(g: tf.Tensor, axis: int, stride: int) -> tf.Tensor:
    """Insert ``stride − 1`` zeros between consecutive entries of ``g`` along ``axis``."""
    if stride == 1:
        return g
    shape = tf.shape(g)
    expanded = tf.expand_dims(g, axis + 1)
    pads = [[0, 0]] * (g.shape.rank + 1)
    pads[axis + 1] = [0, stride - 1]
    spread = tf.reshape(tf.pad(expanded, pads), tf.tensor_scatter_nd_update(shape, [[axis]], [shape[axis] * stride]))
    begin = [0] * g.shape.rank
    size = tf.tensor_scatter_nd_update(tf.shape(spread), [[axis]], [(shape[axis] - 1) * stride + 1])
    return tf.slice(spread, begin, size)


def conv_transpose(
    g: tf.Tensor,
    kernel: tf.Tensor,
    input_spatial: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    padding: str,
    flipped: tf.Tensor | None = None,
    padded: bool = False,
) -> tf.Tensor:
    """The transpose of a channels-last convolution applied to ``g``.

    For ``y = conv(x, W)`` (stride ``s``, dilation ``d``, padding ``p_l``,
    ``p_r`` per axis) this returns ``Wᵀ g``, the vector-Jacobian product
    ``∂(g·y)/∂x``, as a forward convolution: ``g`` dilated by ``s − 1`` zeros,
    padded by ``d (k − 1)`` on both sides (plus the input positions no window
    reaches, on the right), convolved with dilation ``d`` by the kernel flipped
    along its spatial axes with input and output channels swapped, and cropped
    by ``p_l``, ``p_r``. 1-D convolutions with few input channels
    (:func:`_pointwise_pays`) take :func:`_tap_grouped` (stride
    and dilation 1, at most :data:`TAP_GROUP_MAX_FILTERS` filters) or
    :func:`_conv_transpose_pointwise` instead.

    Parameters
    ----------
    g
        ``(batch, *output_spatial, filters)``.
    kernel
        ``(*kernel_spatial, input_channels, filters)`` (one group's input channels).
    input_spatial
        The spatial shape of the convolution's input.
    strides, dilations
        One int per spatial axis.
    padding
        ``'valid'``, ``'same'`` or ``'causal'``.
    flipped
        :func:`flipped_kernel` of ``kernel``, where the caller keeps it (computed here otherwise).
    padded
        Whether ``g`` comes padded already by :func:`transpose_padding`.

    Returns
    -------
    tf.Tensor
        ``(batch, *input_spatial, input_channels)``.
    """
    return conv_transposes([g], [kernel], input_spatial, strides, dilations, padding, [flipped], padded)[0]


class RowwiseOperands(NamedTuple):
    """Operands of :func:`conv_transposes` that an elementwise map makes from ``inputs`` (tensors of one
    shape, the transposes' ``g`` before padding): ``whole`` makes them from the whole tensors, padded by
    ``pads`` (a fused pass), ``row`` makes them unpadded (the same operations, unfused) from rows of each.
    Where the transposes convolve rows one by one or in blocks, each row's or block's operands are made
    inside that loop (:func:`by_row_zipped`, :func:`by_blocks`), in the cache, with no pass over whole
    tensors and nothing to compile; a block's convolution reads ``pads`` as its explicit padding (the
    zeros never written: on the paper's model, RevealCancel spent 7 % of its CPU time writing padded
    operands, a 2-core AMD Zen 4 with oneDNN), a row's operands are padded. Elsewhere ``whole`` makes
    them first."""

    whole: Callable[..., Sequence[tf.Tensor]]
    row: Callable[..., Sequence[tf.Tensor]]
    inputs: Sequence[tf.Tensor]
    #: the padding the transposes read around the operands (``whole``'s carry it): :func:`transpose_padding`'s
    pads: Sequence[Sequence[int]]
    #: where set, two transposes' results ``g`` and ``a`` are joined into one, ``join(d, g, a)`` of the same
    #: rows of ``joined_with`` ``d`` (of the transposes' output shape), inside the loop where rows go one by
    #: one or in blocks: one tensor written and read after rather than two
    join: Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor] | None = None
    joined_with: tf.Tensor | None = None

    def convolved(self, kernels: Sequence[tf.Tensor], dilations: Sequence[int]) -> list[tf.Tensor]:
        """The operands' :func:`convolutions` with ``kernels`` (stride 1, no padding): one tensor, their
        ``join``, where it is set and the rows go one by one or in blocks."""
        shape = self.inputs[0].shape
        padded = tf.TensorSpec([None, *(int(n) + sum(pad) for n, pad in zip(shape[1:-1], self.pads[1:-1])),
                                shape[-1]])
        ones = [1] * len(dilations)
        path, geometry, block = _path_of(padded, kernels[0], ones, "VALID", list(dilations))
        joined = self.join is not None and path in ("blocks", "rows") and geometry is not None
        inputs = [*self.inputs, self.joined_with] if joined else self.inputs
        if path == "blocks":
            read_padded = [(left, right, out) for (left, right), (_, _, out) in zip(self.pads[1:-1], geometry)]
            convolvers = [_aligned_convolution(kernel, ones, dilations, read_padded) for kernel in kernels]
            last = geometry[-1][2]

            def in_block(*blocks: tf.Tensor) -> list[tf.Tensor]:
                values = [convolve(operand) for convolve, operand in zip(convolvers, self.row(*blocks[:len(self.inputs)]))]
                return [self.join(blocks[-1], *(v[..., :last, :] for v in values))] if joined else values

            return by_blocks(in_block, inputs, 1 if joined else len(kernels), geometry, kernels[0], block)
        if path != "rows" or geometry is None:
            return convolutions(self.whole(*self.inputs), kernels, dilations=list(dilations))

        def convolve(*rows: tf.Tensor) -> list[tf.Tensor]:
            values = [tf.nn.convolution(tf.pad(operand, self.pads), kernel, padding="VALID", dilations=list(dilations))
                      for operand, kernel in zip(self.row(*rows[:len(self.inputs)]), kernels)]
            return [self.join(rows[-1], *values)] if joined else values

        return _with_output_shape(by_row_zipped(convolve, inputs, 1 if joined else len(kernels)), geometry,
                                  kernels[0])


def conv_transposes(
    gs: Sequence[tf.Tensor] | RowwiseOperands,
    kernels: Sequence[tf.Tensor],
    input_spatial: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    padding: str,
    flippeds: Sequence[tf.Tensor | None] | None = None,
    padded: bool = False,
) -> list[tf.Tensor]:
    """:func:`conv_transpose` of each of ``gs`` (of one shape) with its kernel of ``kernels`` (of one shape:
    a layer's kernel or ``|kernel|``) and :func:`flipped_kernel` of ``flippeds`` (computed here where None),
    each the same bits as alone: where the rows' convolutions go one by one, all in one loop
    (:func:`convolutions`), which a first call traces and optimises once. Unpadded ``gs`` are read with
    the transpose's padding around them, not padded first (a block's convolution reads it as its
    explicit padding: on the paper's model, Rescale's op time 0.87 -> 0.85 s). ``gs`` may be
    :class:`RowwiseOperands` (padded, on the tap groups' and the plain path); with a ``join``, the result
    is one tensor, the two transposes joined, where they convolve rows one by one or in blocks on the
    plain path with no padding to cut after, and the two transposes elsewhere."""
    rank = len(input_spatial)
    kernel = kernels[0]
    path = _transpose_path(kernel, strides, dilations)
    if path == "pointwise":
        return [_conv_transpose_pointwise(g, k, int(input_spatial[0]), strides[0], dilations[0], padding)
                for g, k in zip(gs, kernels)]
    read = None  # the zeros the forward convolution reads around unpadded gs (never written)
    if not padded:
        if path == "plain":
            for axis in range(rank):
                gs = [_dilate(g, axis + 1, strides[axis]) for g in gs]
            pads = _plain_padding(kernel, input_spatial, strides, dilations, padding)
        else:
            pads = transpose_padding(kernel, input_spatial, strides, dilations, padding)
        read = pads[1:-1]
    if path == "tap groups":
        grouped, overlap_add = _tap_grouped(kernel, int(input_spatial[0]), padding)
        partials = _convolved(_unjoined(gs), [grouped(k) for k in kernels], [1], read)  # g padded by w − 1
        return [overlap_add(partial) for partial in partials]
    crops = []
    for axis in range(rank):
        left, right, _ = conv_padding(int(input_spatial[axis]), int(kernel.shape[axis]), strides[axis],
                                      dilations[axis], padding)
        crops.append((left, left + int(input_spatial[axis])))
        if left or right:  # cut after the loop: joined before, the cut would cut the joined-with rows too
            gs = _unjoined(gs)
    flippeds = [flipped_kernel(k) if f is None else f for k, f in zip(kernels, flippeds or [None] * len(kernels))]
    fulls = _convolved(gs, flippeds, dilations, read)
    return [full[(slice(None), *(slice(a, b) for a, b in crops), slice(None))] for full in fulls]


def _unjoined(gs: Sequence[tf.Tensor] | RowwiseOperands) -> Sequence[tf.Tensor] | RowwiseOperands:
    """``gs`` without a :class:`RowwiseOperands` join: where something follows the loop (a cut, an overlap-add)."""
    return gs._replace(join=None, joined_with=None) if isinstance(gs, RowwiseOperands) else gs


def _convolved(gs: Sequence[tf.Tensor] | RowwiseOperands, kernels: Sequence[tf.Tensor], dilations: Sequence[int],
               pads: Sequence[Sequence[int]] | None = None) -> list[tf.Tensor]:
    """:func:`convolutions` of ``gs`` (stride 1), padded already or read with ``pads``' zeros around them,
    :class:`RowwiseOperands` made on the way."""
    if isinstance(gs, RowwiseOperands):
        return gs.convolved(kernels, dilations)
    return convolutions(gs, kernels, dilations=list(dilations), pads=pads)


def _transpose_path(kernel: tf.Tensor, strides: Sequence[int], dilations: Sequence[int]) -> str:
    """Which way :func:`conv_transpose` computes a transpose: ``'tap groups'``, ``'pointwise'`` or ``'plain'``."""
    if kernel.shape.rank == 3 and _pointwise_pays(int(kernel.shape[1]), int(kernel.shape[2])):
        if strides[0] == 1 and dilations[0] == 1 and int(kernel.shape[2]) <= TAP_GROUP_MAX_FILTERS:
            return "tap groups"
        return "pointwise"
    return "plain"


def transpose_padding(kernel: tf.Tensor, input_spatial: Sequence[int], strides: Sequence[int],
                      dilations: Sequence[int], padding: str) -> list[list[int]] | None:
    """The zero padding :func:`conv_transpose` puts around ``g`` (``(batch, *spatial, filters)``) before its
    forward convolution, or None where it does something else to ``g`` first (a stride's zeros between
    positions, the pointwise path). A caller that makes ``g`` in a fused pass pads it there and passes
    ``padded=True``, sparing the transpose a pass over its operand."""
    path = _transpose_path(kernel, strides, dilations)
    if path == "pointwise" or any(s > 1 for s in strides):
        return None
    if path == "tap groups":
        width = _tap_groups(int(kernel.shape[0]), int(kernel.shape[1]))[1]
        return [[0, 0], [width - 1, width - 1], [0, 0]]
    return _plain_padding(kernel, input_spatial, strides, dilations, padding)


def _plain_padding(kernel: tf.Tensor, input_spatial: Sequence[int], strides: Sequence[int],
                   dilations: Sequence[int], padding: str) -> list[list[int]]:
    """The padding of ``g`` (dilated by the strides) in :func:`conv_transpose`'s plain path: ``d (k − 1)``
    on both sides, plus the input positions no window reaches on the right."""
    pads = [[0, 0]]
    for axis in range(len(input_spatial)):
        size, length = int(kernel.shape[axis]), int(input_spatial[axis])
        left, right, out = conv_padding(length, size, strides[axis], dilations[axis], padding)
        reach = (size - 1) * dilations[axis]
        unreached = length + left + right - ((out - 1) * strides[axis] + reach + 1)
        pads.append([reach, reach + unreached])
    return pads + [[0, 0]]


def flipped_kernel(kernel: tf.Tensor) -> tf.Tensor:
    """The kernel of :func:`conv_transpose`'s forward convolution: ``kernel`` ``(*spatial, in, out)``
    flipped along its spatial axes, its channels swapped."""
    rank = kernel.shape.rank - 2
    return tf.transpose(tf.reverse(kernel, list(range(rank))), [*range(rank), rank + 1, rank])


def _conv_transpose_pointwise(
    g: tf.Tensor, kernel: tf.Tensor, length: int, stride: int, dilation: int, padding: str
) -> tf.Tensor:
    """:func:`conv_transpose` of a 1-D convolution as a pointwise convolution and an overlap-add.

    With ``W`` of shape ``(k, c_in, F)``, stride ``s``, dilation ``d`` and
    left padding ``p_l``, output position ``o`` reads input position
    ``o s + j d − p_l`` through tap ``j``, so

        P[o, j, c] = Σ_f g[o, f] W[j, c, f],
        x̄[i, c] = Σ_{j = 0 … k−1} P̂[i + p_l − j d, j, c],

    ``P̂`` being ``P`` with ``s − 1`` zero rows between its rows (and zero
    outside them).

    ``P`` is one matrix product of ``g``'s positions with ``W`` transposed to
    ``(F, k c_in)``, in blocks of one batch row's positions (:func:`pair_block`),
    which the CPU library runs well, where the plain transpose's ``c_in``
    output channels run badly; the sum over ``j`` is :func:`_overlap_add`,
    elementwise in the fixed order ``j = 0 … k−1``. Neither depends on the
    batch.

    Parameters
    ----------
    g
        ``(batch, output_length, filters)``.
    kernel
        ``(k, input_channels, filters)``.
    length
        The convolution's input length ``L``.
    stride, dilation
        The convolution's.
    padding
        ``'valid'``, ``'same'`` or ``'causal'``.

    Returns
    -------
    tf.Tensor
        ``(batch, length, input_channels)``.
    """
    size, channels, filters = (int(n) for n in kernel.shape)
    left = conv_padding(length, size, stride, dilation, padding)[0]
    pointwise = tf.reshape(tf.transpose(kernel, [2, 0, 1]), [filters, size * channels])
    columns = _on_rows(g, lambda rows, block: _blocked_matmul(rows, pointwise, block=block), size * channels)
    return _overlap_add(size, channels, length, stride, dilation, left)(columns)


def _tap_grouped(kernel: tf.Tensor, length: int, padding: str) -> tuple[Callable, Callable]:
    """:func:`conv_transpose` of a 1-D convolution (stride and dilation 1, few input channels), taps grouped:
    the map from a kernel of ``kernel``'s shape to the grouped kernel ``K`` below, and the overlap-add.

    The ``k`` taps of ``W`` ``(k, c_in, F)`` are cut into ``G`` groups of
    ``w = ⌈k / G⌉`` consecutive taps (the last padded with zero taps), with
    ``G c_in`` near :data:`TAP_GROUP_CHANNELS` (16 for DNA's 4 channels).
    One forward convolution of ``g``, padded by ``w − 1`` on both sides, with
    the kernel ``K[t, f, (h, c)] = W[h w + w − 1 − t, c, f]``, gives every
    group's share of the transpose at once, and :func:`_overlap_add` (``G``
    taps ``w`` apart) adds the groups up::

        Q[u, h, c] = Σ_{t < w} Σ_f g[u − t, f] W[h w + t, c, f]
        x̄[i, c]    = Σ_{h = 0 … G−1} Q[i + p_l − h w, h, c]

    (``g`` zero outside its positions, ``p_l`` the convolution's left
    padding). This is :func:`_conv_transpose_pointwise` with ``w`` taps per
    column rather than one: ``Q`` has ``G c_in`` channels rather than
    ``k c_in`` (16 against 84 for a kernel of 21), so the overlap-add reads
    that many times less, and a convolution with 16 output channels runs as
    fast as the pointwise product with 84. Measured on the 1 kb CNN's first
    layer (160 rows, kernel 21, 64 filters): convolution 9 ms against the
    pointwise product's 15, overlap-add ~2 ms against 7-10.

    Convolutions of more than :data:`TAP_GROUP_MAX_FILTERS` filters keep the
    pointwise path, which ran them faster.
    """
    size, channels, filters = (int(n) for n in kernel.shape)
    groups, width = _tap_groups(size, channels)
    left = conv_padding(length, size, 1, 1, padding)[0]

    def grouped(taps: tf.Tensor) -> tf.Tensor:
        taps = tf.pad(taps, [[0, groups * width - size], [0, 0], [0, 0]])
        taps = tf.reverse(tf.reshape(taps, [groups, width, channels, filters]), [1])
        return tf.reshape(tf.transpose(taps, [1, 3, 0, 2]), [width, filters, groups * channels])

    return grouped, _overlap_add(groups, channels, length, 1, width, left)


def _tap_groups(size: int, channels: int) -> tuple[int, int]:
    """:func:`_tap_grouped`'s number of groups ``G`` (``G c_in`` near
    :data:`TAP_GROUP_CHANNELS`) and taps per group ``w = ⌈k / G⌉``, for ``k`` taps of ``c_in`` channels."""
    groups = max(1, min(size, TAP_GROUP_CHANNELS // channels))
    return groups, -(-size // groups)


@functools.lru_cache(maxsize=None)
def _overlap_add(size: int, channels: int, length: int, stride: int, dilation: int, left: int) -> Callable:
    """The map ``P ↦ x̄`` of :func:`_conv_transpose_pointwise`, for one convolution.

    Returns a function of ``P`` as ``(batch, out, size * channels)`` giving
    ``x̄`` ``(batch, length, channels)``, the terms added in the order
    ``j = 0 … size − 1``. It is compiled by XLA, which fuses the shifted
    additions into one pass and keeps their order (it does not reassociate
    floating-point sums: its result equals the sequential sum's bits); only
    elementwise operations are compiled, so every row is computed alike
    whatever the batch. Its compilation starts as it is traced
    (:class:`~seqlift.model.compile_ahead.CompiledAhead`): 0.08 s of DanQ's
    first call, on the critical path after the tracing.
    """
    @compile_ahead.CompiledAhead
    @tf.function(jit_compile=True, autograph=False)
    def overlap_add(columns: tf.Tensor) -> tf.Tensor:
        out = int(columns.shape[1])
        reached = (out - 1) * stride + 1
        spread = tf.reshape(columns, [-1, out, 1, size, channels])
        spread = tf.pad(spread, [[0, 0], [0, 0], [0, stride - 1], [0, 0], [0, 0]])
        spread = tf.reshape(spread, [-1, out * stride, size, channels])[:, :reached]
        total = None
        for j in range(size):
            # tap j brings row r of the spread columns to input position r − left + j d; each term is
            # padded on its own (one padded frame read by every tap would be written out first)
            first = j * dilation - left
            begin = min(max(first, 0), length)
            end = max(min(first + reached, length), begin)
            rows = spread[:, begin - first:end - first, j]
            term = tf.pad(rows, [[0, 0], [begin, length - end], [0, 0]])
            total = term if total is None else total + term
        return total

    return overlap_add
