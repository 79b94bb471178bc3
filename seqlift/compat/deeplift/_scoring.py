"""The score functions that converted models hand out, computed by ``seqlift.attribute``.

Each function answers one of the original's calls with a single call of
:func:`seqlift.attribute` over all the rows it is given: the original's
``input_references_list`` becomes one reference per row (``(N, 1, ...)``), and
:func:`mean_scores` takes several references per row (``(N, S, ...)``, or an
int S for seqlift's dinucleotide shuffles) and returns their mean, which is
what :func:`~seqlift.compat.deeplift.util.get_shuffle_seq_ref_function` needs
to score every reference of a batch of sequences in the same call.

Tasks
-----
seqlift compiles one TensorFlow function per target, method and list of
tasks, and tracing it costs seconds (on the paper's genomics model, 7.5 s for
``genomics_default``, 3.0 s for ``rescale``, 1.4 s for ``grad_x_input``; the
scores of 100 sequences then take 0.1-0.2 s), while the original switched
tasks by assigning a variable. Notebooks call a score function once per task
on the same data, so when the target has at most :data:`ALL_UNITS_MAX` units
and their scores fit in :data:`ALL_UNITS_BYTES`, every unit of the target is
computed at once (one compile for all tasks, one forward pass), and a score
function keeps the scores of its last call for the next call with the same
inputs and references (recognised by a hash of their bytes); otherwise the
tasks asked for are computed. The scores are the same either way: each unit
has its own backward pass.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from seqlift.errors import SeqliftError

#: targets with at most this many units are scored for every unit at once (see the module docstring)
ALL_UNITS_MAX = 8
#: ... provided that the scores of every unit take at most this many bytes
ALL_UNITS_BYTES = 256 * 2**20


@dataclass(frozen=True, eq=False)
class Scoring:
    """What a score function computes.

    Attributes
    ----------
    graph : seqlift.model.Model
        The model, as :func:`seqlift.load_model` returns it.
    method, maxpool : str
        ``seqlift.attribute``'s ``method`` and ``maxpool``.
    target : str
        The node explained (the original's target layer).
    target_units : int
        Its number of units (the range of ``task_idx``).
    scored : tuple of str
        The nodes whose scores are returned, in the order asked for.
    listed : bool
        The scored layers were asked for as a list, so results are a list.
    input_names : tuple of str
        The original's names of the model inputs, in the model's order (the
        keys of dict arguments).
    scored_sizes : tuple of int
        Values per row of each scored node.
    """

    graph: Any
    method: str
    maxpool: str
    target: str
    target_units: int
    scored: tuple[str, ...]
    listed: bool
    input_names: tuple[str, ...]
    scored_sizes: tuple[int, ...]


# --------------------------------------------------------------------------- arguments
def as_input_arrays(values: Any, scoring: Scoring, what: str = "input_data_list") -> list[np.ndarray]:
    """The original's ``input_data_list`` (a list, or a dict by input name) as float32 arrays in input order.

    A dict may also be keyed by seqlift's input node names.
    """
    names, nodes = scoring.input_names, scoring.graph.inputs
    if isinstance(values, Mapping):
        arrays = []
        for name, node in zip(names, nodes):
            key = name if name in values else node if node in values else None
            if key is None:
                raise SeqliftError(f"{what} has no array for input {name!r}; its keys are "
                                   f"{', '.join(map(repr, values))} and the model's inputs {', '.join(map(repr, names))}")
            arrays.append(values[key])
    elif isinstance(values, np.ndarray) and len(values) != len(names):
        raise SeqliftError(f"{what} must be a list with one array per model input ({len(names)}), "
                           f"not an array of shape {values.shape}: pass [array]")
    elif isinstance(values, (list, tuple, np.ndarray)):
        arrays = list(values)
        if len(arrays) != len(names):
            raise SeqliftError(f"{what} has {len(arrays)} entries but the model has {len(names)} inputs "
                               f"({', '.join(map(repr, names))})")
    else:
        raise SeqliftError(f"{what} must be a list with one array per model input or a dict by input name, "
                           f"not {type(values).__name__}")
    return [np.asarray(a, dtype=np.float32) for a in arrays]


def as_reference_arrays(values: Any, inputs: list[np.ndarray], scoring: Scoring) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The original's ``input_references_list``: the arrays as given, and broadcast to one row per input row.

    As in the original, each reference is multiplied out to the shape of its
    input (so a (4,) or (1, 1, 4) frequency vector, an (L, 4) array or an
    (N, L, 4) array all work), and None means all-zero references.

    Returns
    -------
    given : list of np.ndarray
        The references as given (float32), one per input.
    per_row : list of np.ndarray
        Views of shape ``(N, 1, *input_shape)``: one reference per row.
    """
    if values is None:
        print("No reference provided - using zeros")
        values = [0.0] * len(inputs)
    given = as_input_arrays(values, scoring, "input_references_list")
    per_row = []
    for name, ref, x in zip(scoring.input_names, given, inputs):
        try:
            per_row.append(np.broadcast_to(ref, x.shape)[:, None])
        except ValueError:
            raise SeqliftError(f"the reference of input {name!r} has shape {ref.shape}, which does not "
                               f"broadcast to the input's shape {x.shape}") from None
    return given, per_row


def check_task(task_idx: Any, scoring: Scoring) -> int:
    """``task_idx`` as an int in range for the target."""
    if isinstance(task_idx, (bool, np.bool_)) or not isinstance(task_idx, (int, np.integer)):
        raise SeqliftError(f"task_idx must be one integer, not {task_idx!r}; call the function once per task "
                           "(util.get_shuffle_seq_ref_function takes a list of tasks)")
    if not 0 <= task_idx < scoring.target_units:
        raise SeqliftError(f"task_idx {task_idx} is out of range: the target layer has {scoring.target_units} "
                           f"units (0 to {scoring.target_units - 1})")
    return int(task_idx)


def progress_printer(progress_update: int | None) -> Callable[[int], None] | None:
    """A ``progress`` callback printing ``Done <rows>`` each time another ``progress_update`` rows are done."""
    if not progress_update:
        return None
    reported = [-1]

    def report(done: int) -> None:
        if done // progress_update > reported[0]:
            reported[0] = done // progress_update
            print("Done", done)

    return report


def fingerprint(arrays: Sequence[np.ndarray]) -> bytes:
    """A 128-bit hash of the arrays' dtypes, shapes and bytes."""
    digest = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(repr((a.dtype.str, a.shape)).encode())
        digest.update(a.view(np.uint8).reshape(-1))
    return digest.digest()


# --------------------------------------------------------------------------- score functions
class ScoreFunction:
    """A compiled-scores function of a converted model (base class).

    Subclasses say which of ``seqlift.attribute``'s results they return
    (:meth:`_pick`) and take the original's call signature.
    """

    #: whether seqlift.attribute must return the input multipliers
    needs_multipliers = False
    #: integrated-gradients steps (for that method only)
    steps = 20

    def __init__(self, scoring: Scoring) -> None:
        self.scoring = scoring
        self._memo: tuple[bytes, dict[int, list[np.ndarray]]] | None = None

    @property
    def method(self) -> str:
        """The ``seqlift.attribute`` method run."""
        return self.scoring.method

    def mean_scores(self, tasks: Sequence[int], inputs: list[np.ndarray], references: list[Any],
                    batch_size: int | None = None, progress_update: int | None = None,
                    seed: int = 0) -> list[list[np.ndarray]]:
        """Scores per task and scored layer, averaged over each row's references, in one seqlift.attribute call.

        Parameters
        ----------
        tasks : list of int
            Units of the target.
        inputs : list of np.ndarray
            One array ``(N, ...)`` per model input.
        references : list
            Per input, an array ``(N, S, ...)`` (S references per row) or an
            int S (seqlift's dinucleotide shuffles of one-hot rows, seeded by ``seed``).
        batch_size : int, optional
            (row, reference) pairs per batch; seqlift's automatic size when None.
        progress_update : int, optional
            Print ``Done <rows>`` every this many rows.
        seed : int
            Seed of the shuffles when ``references`` holds ints.

        Returns
        -------
        list of list of np.ndarray
            ``[task][scored layer]`` float32 arrays of shape ``(N, *layer_shape)``.
        """
        by_task = self._scores_by_task(tasks, inputs, references, batch_size, progress_update, seed)
        return [by_task[task] for task in tasks]

    def _scores_by_task(self, tasks: Sequence[int], inputs: list[np.ndarray], references: list[Any],
                        batch_size: int | None, progress_update: int | None, seed: int) -> dict[int, list[np.ndarray]]:
        """Scores of ``tasks``, or of every unit of the target when that is cheap (see the module docstring)."""
        import seqlift

        scoring = self.scoring
        units = scoring.target_units
        all_bytes = 4 * units * inputs[0].shape[0] * sum(scoring.scored_sizes)
        computed = list(range(units)) if units <= ALL_UNITS_MAX and all_bytes <= ALL_UNITS_BYTES else sorted(set(tasks))
        inner = [node for node in scoring.scored if node not in scoring.graph.inputs]
        result = seqlift.attribute(
            scoring.graph, list(inputs), references=list(references), method=self.method, task=computed,
            target_layer=scoring.target, batch_size=batch_size, seed=seed, steps=self.steps,
            maxpool=scoring.maxpool, return_multipliers=self.needs_multipliers, layers=inner,
            progress=progress_printer(progress_update),
        )
        return {task: [np.asarray(self._pick(result, node, k)) for node in scoring.scored]
                for k, task in enumerate(computed)}

    def _pick(self, result: Any, node: str, k: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _input_position(self, node: str) -> int:
        return self.scoring.graph.inputs.index(node)

    def _answer(self, task_idx: Any, input_data_list: Any, input_references_list: Any,
                batch_size: int | None, progress_update: int | None) -> np.ndarray | list[np.ndarray]:
        """The original's call: one task, one reference per row (the scores of other units kept for the next call)."""
        scoring = self.scoring
        task = check_task(task_idx, scoring)
        inputs = as_input_arrays(input_data_list, scoring)
        given, per_row = as_reference_arrays(input_references_list, inputs, scoring)
        key = fingerprint(inputs + given)
        if self._memo is None or self._memo[0] != key or task not in self._memo[1]:
            self._memo = (key, self._scores_by_task([task], inputs, per_row, batch_size, progress_update, 0))
        scores = [array.copy() for array in self._memo[1][task]]  # the caller may change them in place
        return scores if scoring.listed else scores[0]


class ContribsFunction(ScoreFunction):
    """``model.get_target_contribs_func(...)``: contributions of the scored layers."""

    def __call__(self, task_idx: int, input_data_list: Any, batch_size: int | None = None,
                 progress_update: int | None = None, input_references_list: Any = None) -> np.ndarray | list[np.ndarray]:
        """Contributions to unit ``task_idx`` of the target, one reference per row.

        Parameters
        ----------
        task_idx : int
            Unit of the target layer.
        input_data_list : list or dict
            One array per model input (or a dict by input name), rows first.
        batch_size : int, optional
            Rows per batch (seqlift's automatic size when None).
        progress_update : int, optional
            Print ``Done <rows>`` every this many rows.
        input_references_list : list or dict, optional
            One reference per input, broadcast to the input's shape; zeros when None.

        Returns
        -------
        np.ndarray or list of np.ndarray
            An array per scored layer (a list when the layers were given as a list).
        """
        return self._answer(task_idx, input_data_list, input_references_list, batch_size, progress_update)

    def _pick(self, result: Any, node: str, k: int) -> np.ndarray:
        if node in self.scoring.graph.inputs:
            return result.contributions[self._input_position(node)][k]
        return result.layers[node]["contributions"][k]


class MultipliersFunction(ScoreFunction):
    """``model.get_target_multipliers_func(...)``: multipliers of the scored layers.

    For ``NonlinearMxtsMode.Gradient`` these are the gradients.
    """

    needs_multipliers = True

    def __call__(self, task_idx: int, input_data_list: Any, batch_size: int | None = None,
                 progress_update: int | None = None, input_references_list: Any = None) -> np.ndarray | list[np.ndarray]:
        """Multipliers for unit ``task_idx`` of the target; arguments as :meth:`ContribsFunction.__call__`."""
        return self._answer(task_idx, input_data_list, input_references_list, batch_size, progress_update)

    def _pick(self, result: Any, node: str, k: int) -> np.ndarray:
        if node in self.scoring.graph.inputs:
            return result.multipliers[self._input_position(node)][k]
        return result.layers[node]["multipliers"][k]


def _single_input(scoring: Scoring, what: str) -> None:
    if scoring.listed or len(scoring.scored) != 1 or scoring.scored[0] not in scoring.graph.inputs:
        raise SeqliftError(f"{what} needs the multipliers of one input layer (find_scores_layer_idx=0 or the "
                           "input's name, not a list)")


class HypotheticalFunction(ScoreFunction):
    """``util.get_hypothetical_contribs_func_onehot(multipliers_function)``.

    At each position, base ``b`` would contribute ``m_b − Σ_c m_c r_c``: the
    multipliers times the difference from the reference of the one-hot
    vector of ``b`` (seqlift's ``Attribution.hypothetical``).
    """

    def __init__(self, scoring: Scoring) -> None:
        _single_input(scoring, "get_hypothetical_contribs_func_onehot")
        super().__init__(scoring)

    def __call__(self, task_idx: int, input_data_list: Any, input_references_list: Any = None,
                 batch_size: int | None = None, progress_update: int | None = None) -> np.ndarray:
        """Hypothetical contributions ``(N, L, 4)`` for unit ``task_idx``, one reference per row.

        Parameters are those of :meth:`ContribsFunction.__call__`, in the
        original's order for this function.
        """
        return self._answer(task_idx, input_data_list, input_references_list, batch_size, progress_update)

    def _scores_by_task(self, tasks: Sequence[int], inputs: list[np.ndarray], references: list[Any],
                        batch_size: int | None, progress_update: int | None, seed: int) -> dict[int, list[np.ndarray]]:
        shape = inputs[self._input_position(self.scoring.scored[0])].shape
        if len(shape) != 3 or shape[-1] != 4:
            raise SeqliftError(f"hypothetical contributions need one-hot inputs of shape (N, L, 4), not {shape}")
        return super()._scores_by_task(tasks, inputs, references, batch_size, progress_update, seed)

    def _pick(self, result: Any, node: str, k: int) -> np.ndarray:
        return result.hypothetical[self._input_position(node)][k]


class IntegratedGradientsFunction(ScoreFunction):
    """``util.get_integrated_gradients_function(gradient_function, num_intervals)`` for a Gradient-mode function.

    seqlift's ``integrated_gradients`` method with ``steps=num_intervals``:
    the mean of the gradients at ``r + (k + ½)/n · (x − r)``, ``k = 0..n−1``,
    times ``x − r`` (the original's midpoint sum).
    """

    def __init__(self, scoring: Scoring, num_intervals: int) -> None:
        _single_input(scoring, "get_integrated_gradients_function")
        if isinstance(num_intervals, (bool, np.bool_)) or not isinstance(num_intervals, (int, np.integer)) \
                or num_intervals < 1:
            raise SeqliftError(f"num_intervals must be a positive integer, not {num_intervals!r}")
        super().__init__(scoring)
        self.steps = int(num_intervals)

    @property
    def method(self) -> str:
        return "integrated_gradients"

    def __call__(self, task_idx: int, input_data_list: Any, input_references_list: Any = None,
                 batch_size: int | None = None, progress_update: int | None = None) -> np.ndarray:
        """Integrated gradients x (input − reference) for unit ``task_idx``, one reference per row."""
        return self._answer(task_idx, input_data_list, input_references_list, batch_size, progress_update)

    def _pick(self, result: Any, node: str, k: int) -> np.ndarray:
        return result.contributions[self._input_position(node)][k]


def scored_sizes(shapes: Mapping[str, tuple], nodes: Sequence[str]) -> tuple[int, ...]:
    """Values per row of each node (for the memory estimate of :data:`ALL_UNITS_BYTES`)."""
    return tuple(int(math.prod(shapes[node])) for node in nodes)
