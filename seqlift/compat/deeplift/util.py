"""``deeplift.util``: shuffled references, hypothetical contributions, integrated gradients, batching.

The wrappers take any score function, as the original's did; given the score
functions of a converted model (or each other's results) they compute with
seqlift's batched engine instead of expanding every (sequence, reference) pair
in numpy:

* :func:`get_shuffle_seq_ref_function` scores all references of a batch of
  sequences in one :func:`seqlift.attribute` call, and with
  :func:`~seqlift.compat.deeplift.dinuc_shuffle.dinuc_shuffle` as the shuffle
  lets seqlift draw the shuffles (so the result equals
  ``seqlift.attribute(model, x, references=num_refs_per_seq, seed=seed)``);
* :func:`get_hypothetical_contribs_func_onehot` of a multipliers function is
  seqlift's ``Attribution.hypothetical``;
* :func:`get_integrated_gradients_function` of a ``Gradient``-mode
  multipliers function is seqlift's ``integrated_gradients`` method.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from seqlift.compat.deeplift._enum import enum
from seqlift.compat.deeplift._scoring import (
    HypotheticalFunction,
    IntegratedGradientsFunction,
    MultipliersFunction,
    ScoreFunction,
    check_task,
)
from seqlift.compat.deeplift._unsupported import module_getattr, refuse
from seqlift.errors import SeqliftError

__all__ = [
    "get_shuffle_seq_ref_function",
    "get_hypothetical_contribs_func_onehot",
    "get_integrated_gradients_function",
    "run_function_in_batches",
    "compile_func",
    "randomly_shuffle_seq",
    "enum",
]


# --------------------------------------------------------------------------- shuffled references
def get_shuffle_seq_ref_function(score_computation_function: Callable[..., Any], shuffle_func: Callable[..., Any],
                                 one_hot_func: Callable[[list], np.ndarray] | None = None) -> Callable[..., Any]:
    """Scores averaged over shuffled versions of each sequence.

    Parameters
    ----------
    score_computation_function : callable
        ``f(task_idx, input_data_list, input_references_list, batch_size,
        progress_update)`` (by keyword), e.g. a converted model's
        ``get_target_contribs_func(...)`` or a hypothetical-contributions function.
    shuffle_func : callable
        ``shuffle_func(sequence, rng=numpy.random.RandomState)``: one shuffle.
        With :func:`seqlift.compat.deeplift.dinuc_shuffle.dinuc_shuffle` and
        one-hot ``(N, L, 4)`` inputs, seqlift draws all shuffles at once
        (seeded by ``seed``) instead of calling it per reference.
    one_hot_func : callable, optional
        Encodes a list of sequences (strings) as an array; None when the
        sequences are already encoded.

    Returns
    -------
    callable
        ``f(task_idx, input_data_sequences, num_refs_per_seq, batch_size,
        seed=1, progress_update=None, pregen_refs=None)``: the scores averaged
        over ``num_refs_per_seq`` references per sequence, an array, or a list
        of arrays (one per task, sharing the references) when ``task_idx`` is
        a list. ``pregen_refs`` gives the references instead, ordered per
        sequence and then per reference (``len(sequences) * num_refs_per_seq``).
    """
    from seqlift.compat.deeplift.dinuc_shuffle import dinuc_shuffle

    def compute_scores_with_shuffle_seq_refs(task_idx: int | Sequence[int], input_data_sequences: Any,
                                             num_refs_per_seq: int, batch_size: int | None, seed: int = 1,
                                             progress_update: int | None = None,
                                             pregen_refs: Any = None) -> np.ndarray | list[np.ndarray]:
        several = hasattr(task_idx, "__iter__")
        tasks = list(task_idx) if several else [task_idx]
        if isinstance(num_refs_per_seq, (bool, np.bool_)) or not isinstance(num_refs_per_seq, (int, np.integer)) \
                or num_refs_per_seq < 1:
            raise SeqliftError(f"num_refs_per_seq must be a positive integer, not {num_refs_per_seq!r}")
        x = one_hot_func(list(input_data_sequences)) if one_hot_func is not None else input_data_sequences
        x = np.asarray(x)
        if pregen_refs is not None:
            references: Any = _given_references(pregen_refs, x, num_refs_per_seq, one_hot_func)
        elif shuffle_func is dinuc_shuffle and x.ndim == 3 and x.shape[-1] == 4:
            references = int(num_refs_per_seq)  # seqlift's shuffles, drawn as the batches are scored
        else:
            references = _shuffled_references(input_data_sequences, x, num_refs_per_seq, shuffle_func,
                                              one_hot_func, seed, progress_update)
        if isinstance(score_computation_function, ScoreFunction):
            scores = _engine_scores(score_computation_function, tasks, x, references, batch_size,
                                    progress_update, seed)
        else:
            if isinstance(references, int):
                import seqlift

                references = seqlift.dinucleotide_shuffle(x, references, seed=seed)
            scores = _pairwise_scores(score_computation_function, tasks, x, references, batch_size, progress_update)
        return scores if several else scores[0]

    return compute_scores_with_shuffle_seq_refs


def _given_references(pregen_refs: Any, x: np.ndarray, per_seq: int, one_hot_func: Callable | None) -> np.ndarray:
    refs = np.asarray(one_hot_func(list(pregen_refs)) if one_hot_func is not None else pregen_refs)
    if len(refs) != len(x) * per_seq:
        raise SeqliftError(f"pregen_refs holds {len(refs)} references but {len(x)} sequences x {per_seq} "
                           f"references per sequence = {len(x) * per_seq} are needed")
    return refs.reshape((len(x), per_seq) + x.shape[1:])


def _shuffled_references(sequences: Any, x: np.ndarray, per_seq: int, shuffle_func: Callable, one_hot_func: Callable | None,
                         seed: int, progress_update: int | None) -> np.ndarray:
    """``shuffle_func``'s references, drawn as the original drew them: per sequence, then per reference."""
    rng = np.random.RandomState(seed)
    refs = []
    for seq in sequences:
        seq = seq.squeeze() if isinstance(seq, np.ndarray) else seq
        for _ in range(per_seq):
            refs.append(shuffle_func(seq, rng=rng))
            if progress_update and len(refs) % progress_update == 0:
                print(f"{len(refs)} reference seqs generated")
    encoded = np.asarray(one_hot_func(refs) if one_hot_func is not None else refs)
    return encoded.reshape((len(x), per_seq) + x.shape[1:])


def _engine_scores(function: ScoreFunction, tasks: list[int], x: np.ndarray, references: Any,
                   batch_size: int | None, progress_update: int | None, seed: int) -> list[Any]:
    """All references of each batch of sequences scored by one seqlift.attribute call, per task."""
    scoring = function.scoring
    if len(scoring.graph.inputs) != 1:
        raise SeqliftError("get_shuffle_seq_ref_function scores models with one input; this one has "
                           f"{len(scoring.graph.inputs)}")
    tasks = [check_task(task, scoring) for task in tasks]
    refs = references if isinstance(references, int) else np.asarray(references, dtype=np.float32)
    per_task = function.mean_scores(tasks, [np.asarray(x, dtype=np.float32)], [refs], batch_size,
                                    progress_update, seed)
    return [scores if scoring.listed else scores[0] for scores in per_task]


def _pairwise_scores(function: Callable, tasks: list[int], x: np.ndarray, references: np.ndarray,
                     batch_size: int | None, progress_update: int | None) -> list[np.ndarray]:
    """Any score function, called once per task on every (sequence, reference) pair; the mean per sequence."""
    n, per_seq = references.shape[:2]
    x_pairs = np.repeat(x, per_seq, axis=0)
    ref_pairs = references.reshape((n * per_seq,) + references.shape[2:])
    out = []
    for task in tasks:
        scores = np.asarray(function(task_idx=task, input_data_list=[x_pairs], input_references_list=[ref_pairs],
                                     batch_size=batch_size, progress_update=progress_update))
        out.append(scores.reshape((n, per_seq) + x.shape[1:]).mean(axis=1))
    return out


# --------------------------------------------------------------------------- hypothetical contributions
def get_hypothetical_contribs_func_onehot(multipliers_function: Callable[..., Any]) -> Callable[..., np.ndarray]:
    """Hypothetical contributions of one-hot ``(N, L, 4)`` inputs from a multipliers function.

    At each position, base ``b`` would contribute ``m_b − Σ_c m_c r_c``: the
    multipliers times the difference from the reference of the one-hot
    vector of ``b``, summed over the channels.

    Parameters
    ----------
    multipliers_function : callable
        Usually ``model.get_target_multipliers_func(find_scores_layer_idx=0, ...)``.

    Returns
    -------
    callable
        ``f(task_idx, input_data_list, input_references_list, batch_size, progress_update)``.
    """
    if isinstance(multipliers_function, MultipliersFunction):
        return HypotheticalFunction(multipliers_function.scoring)

    def hypothetical_contribs_func(task_idx: int, input_data_list: Any, input_references_list: Any,
                                   batch_size: int | None = None, progress_update: int | None = None) -> np.ndarray:
        x = np.asarray(input_data_list[0])
        if x.ndim != 3:
            raise SeqliftError(f"hypothetical contributions need inputs of shape (N, L, channels), not {x.shape}")
        m = np.asarray(multipliers_function(task_idx=task_idx, input_data_list=input_data_list,
                                            input_references_list=input_references_list, batch_size=batch_size,
                                            progress_update=progress_update), dtype=np.float64)
        r = np.broadcast_to(np.asarray(input_references_list[0], dtype=np.float64), x.shape)
        return m - np.sum(m * r, axis=-1, keepdims=True)

    return hypothetical_contribs_func


# --------------------------------------------------------------------------- integrated gradients
def get_integrated_gradients_function(gradient_computation_function: Callable[..., Any],
                                      num_intervals: int) -> Callable[..., np.ndarray]:
    """Integrated gradients from a gradient function, as a midpoint sum over ``num_intervals`` steps.

    The contribution of each input is ``(x − r) · (1/n) Σ_k g(r + (k + ½)/n · (x − r))``,
    ``k = 0..n−1``, with ``g`` the gradient of the target.

    Parameters
    ----------
    gradient_computation_function : callable
        Usually the multipliers function of a ``NonlinearMxtsMode.Gradient``
        model (then seqlift's ``integrated_gradients`` method runs); any
        ``f(task_idx, input_data_list, input_references_list, batch_size, progress_update)``.
    num_intervals : int
        Steps n.

    Returns
    -------
    callable
        ``f(task_idx, input_data_list, input_references_list, batch_size, progress_update=None)``.
    """
    if isinstance(gradient_computation_function, MultipliersFunction) \
            and gradient_computation_function.method == "grad_x_input":
        return IntegratedGradientsFunction(gradient_computation_function.scoring, num_intervals)
    steps = int(num_intervals)

    def compute_integrated_gradients(task_idx: int, input_data_list: Any, input_references_list: Any,
                                     batch_size: int | None = None, progress_update: int | None = None) -> np.ndarray:
        if len(input_data_list) != 1:
            raise SeqliftError("integrated gradients from a gradient function take models with one input")
        x = np.asarray(input_data_list[0], dtype=np.float64)
        r = np.ones_like(x) * np.asarray(input_references_list[0], dtype=np.float64)
        fractions = ((np.arange(steps) + 0.5) / steps).reshape((1, steps) + (1,) * (x.ndim - 1))
        points = r[:, None] + fractions * (x - r)[:, None]
        gradients = np.asarray(gradient_computation_function(
            task_idx=task_idx, input_data_list=[points.reshape((-1,) + x.shape[1:])],
            input_references_list=[np.repeat(r, steps, axis=0)], batch_size=batch_size,
            progress_update=progress_update))
        return gradients.reshape((len(x), steps) + x.shape[1:]).mean(axis=1) * (x - r)

    return compute_integrated_gradients


# --------------------------------------------------------------------------- compiled functions and batching
def compile_func(inputs: Any, outputs: Any) -> Callable[[Sequence[np.ndarray]], Any]:
    """A function from input values to layer values, from ``layer.get_activation_vars()`` stand-ins.

    Parameters
    ----------
    inputs : list
        ``get_activation_vars()`` of every input layer of a converted model.
    outputs : object or list
        ``get_activation_vars()`` of the layer(s) whose values to return.

    Returns
    -------
    callable
        ``f([arrays])``: an array (a list of arrays when ``outputs`` is a list).
    """
    from seqlift.compat.deeplift.models import ActivationVars

    inputs = inputs if isinstance(inputs, list) else [inputs]
    wanted = outputs if isinstance(outputs, list) else [outputs]
    if not all(isinstance(v, ActivationVars) for v in inputs + wanted):
        raise refuse("compile_func of TensorFlow tensors", "pass layer.get_activation_vars() of a converted model's "
                     "layers, or use the model's get_prediction_function")
    forward = inputs[0].layer._model.forward_function([v.layer for v in inputs], [v.layer for v in wanted])

    def func_to_return(values: Sequence[np.ndarray]) -> Any:
        values = list(values)
        if len(inputs) == 1 and len(values) != 1:
            values = [values]
        results = forward(values)
        return results if isinstance(outputs, list) else results[0]

    return func_to_return


def run_function_in_batches(func: Callable[[list], Any], input_data_list: list, learning_phase: Any = None,
                            batch_size: int = 10, progress_update: int | None = 1000,
                            multimodal_output: bool = False) -> list:
    """``func`` applied to consecutive row batches of every array of ``input_data_list``; the rows concatenated.

    Parameters
    ----------
    func : callable
        Takes a list with one batch per array (plus ``learning_phase`` when
        given) and returns one row per input row, or with
        ``multimodal_output`` a list of such outputs.
    input_data_list : list of np.ndarray
        Arrays with the same number of rows.
    batch_size : int
        Rows per call.
    progress_update : int, optional
        Print ``Done <row>`` before the batch starting at each multiple of it.

    Returns
    -------
    list
        The output rows (a list of row lists with ``multimodal_output``).
    """
    if not isinstance(input_data_list, list):
        raise SeqliftError("input_data_list must be a list with one array per input")
    rows: list = []
    for start in range(0, len(input_data_list[0]), batch_size):
        if progress_update is not None and start % progress_update == 0:
            print("Done", start)
        batch = [a[start:start + batch_size] for a in input_data_list]
        output = func(batch + ([] if learning_phase is None else [learning_phase]))
        if multimodal_output:
            rows = rows or [[] for _ in output]
            for collected, part in zip(rows, output):
                collected.extend(part)
        else:
            rows.extend(output)
    return rows


def randomly_shuffle_seq(seq: str) -> str:
    """A uniformly random permutation of the letters of ``seq`` (a mononucleotide shuffle)."""
    return "".join(np.random.permutation(list(seq)))


_INTERNAL = "it was an internal helper of the original"
__getattr__ = module_getattr("deeplift.util", {
    "get_session": "seqlift runs TensorFlow 2 eagerly, without sessions",
    "mean_normalise_weights_for_sequence_convolution": "seqlift scores the model as saved; normalise the weights "
                                                       "in Keras",
    "get_mean_normalised_softmax_weights": "use seqlift.attribute(..., softmax_normalize=True)",
    "in_place_shuffle": "use randomly_shuffle_seq or dinuc_shuffle",
    **{name: _INTERNAL for name in ("is_type", "assert_is_type", "assert_is_not_type", "assert_type",
                                    "superclass_in_base_classes", "connect_list_of_layers",
                                    "load_yaml_data_from_file", "get_file_handle", "is_gzipped")},
})
