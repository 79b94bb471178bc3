"""Every attribution method, declared once: the registry the rest of seqlift reads.

A :class:`Method` says what a value of ``method=`` is called and shown as
(its description, its label in reports, its short name in the Figure 5
tables), how its per-batch scores are computed (a :class:`Scorer` of
:mod:`seqlift.engine.scorers`), what one (sequence, reference) pair costs in
memory (for the automatic batch size), whether it is a DeepLIFT method
(multipliers at every node, so inner-layer scores can be asked for), and
what it takes: references (all but in-silico mutagenesis), one-hot input
only, a window of positions.

Adding a method is adding one :func:`register` call below (and, for a new
kind of computation, its scorer class in :mod:`seqlift.engine.scorers`). This
module imports no TensorFlow, so the command line and the reports read it
cheaply.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    from seqlift.engine.scorers import BatchRequest, BatchScorer
    from seqlift.model.graph import Model

__all__ = ["DEEPLIFT_METHODS", "METHODS", "Method", "Scorer", "register", "sequence_inputs"]


@dataclass(frozen=True)
class Scorer:
    """Which class of :mod:`seqlift.engine.scorers` computes a method's batches, and its options.

    Named rather than imported, so that reading the registry does not import TensorFlow.
    """

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def build(self, request: "BatchRequest") -> "BatchScorer":
        """The scorer for one compiled batch function."""
        from seqlift.engine import scorers

        return getattr(scorers, self.name)(request, **self.options)


@dataclass(frozen=True)
class Method:
    """One attribution method.

    Attributes
    ----------
    name : str
        The value of ``method=`` (and of ``--method``).
    description : str
        What it computes, in one line.
    label : str
        Its name in reports and plots (:mod:`seqlift.report`).
    short : str
        Its name in the Figure 5 tables.
    scorer : Scorer
        How a batch of (sequence, reference) pairs is scored.
    batch_copies : int or callable
        Float32 copies of the target's activations one pair holds at once:
        the memory cost :func:`seqlift.engine.budget.pairs_per_batch`
        divides its budget by. A callable takes the model and the input
        length (None: the model's own), for a cost that depends on them,
        such as one forward pass per substitution.
    deeplift : bool
        Multipliers reach every node, so ``layers=`` (inner-layer scores) can be asked for.
    uses_steps : bool
        ``steps`` changes the result (integrated gradients).
    uses_references : bool
        Scores are taken against references. When False, ``references=``
        is ignored: none are made, each sequence is one pair, and
        ``n_references`` is 0.
    one_hot_only : bool
        The one-hot inputs must be one-hot DNA (each position one base, or
        all zero for N); anything else is refused before scoring.
    windowed : bool
        Takes a window of positions (``ism_window=``); positions outside score 0.
    """

    name: str
    description: str
    label: str
    short: str
    scorer: Scorer
    batch_copies: int | Callable[["Model", int | None], int] = 4
    deeplift: bool = False
    uses_steps: bool = False
    uses_references: bool = True
    one_hot_only: bool = False
    windowed: bool = False

    def copies(self, model: "Model", width: int | None = None) -> int:
        """:attr:`batch_copies` for ``model`` and inputs of length ``width`` (None: the model's own)."""
        return int(self.batch_copies(model, width) if callable(self.batch_copies) else self.batch_copies)


#: every method by name, in the order the reports list them
METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add a method to :data:`METHODS`."""
    if method.name in METHODS:
        raise ValueError(f"method {method.name!r} is registered twice")
    METHODS[method.name] = method
    return method


def _deeplift(nonlinearity: str) -> Scorer:
    """DeepLIFT with the nonlinearity rule of :data:`seqlift.engine.backprop.NONLINEARITY_CHOICES`."""
    return Scorer("DeepLiftScorer", {"nonlinearity": nonlinearity})


register(Method(
    name="gradient",
    description="the gradient at the input (contributions: gradient x input)",
    label="gradient",
    short="gradient",
    scorer=Scorer("InputGradientScorer", {"guided": False, "times": "input"}),
))
register(Method(
    name="grad_x_input",
    description="the gradient at the input times (input - reference)",
    label="gradient x input",
    short="gradient x input",
    scorer=Scorer("InputGradientScorer", {"guided": False, "times": "difference"}),
))
register(Method(
    name="guided_backprop",
    description="guided backpropagation times (input - reference)",
    label="guided backprop x input",
    short="guided backprop x input",
    scorer=Scorer("InputGradientScorer", {"guided": True, "times": "difference"}),
))
register(Method(
    name="integrated_gradients",
    description="integrated gradients from each reference (midpoint Riemann sum)",
    label="integrated gradients (10 steps)",  # the report command's default --ig-steps
    short="integrated gradients (10)",
    scorer=Scorer("IntegratedGradientsScorer"),
    uses_steps=True,
))
register(Method(
    name="rescale",
    description="DeepLIFT with the Rescale rule at every nonlinearity",
    label="DeepLIFT Rescale",
    short="Rescale",
    scorer=_deeplift("rescale"),
    batch_copies=8,
    deeplift=True,
))
register(Method(
    name="revealcancel",
    description="DeepLIFT with the RevealCancel rule at every nonlinearity",
    label="DeepLIFT RevealCancel",
    short="RevealCancel",
    scorer=_deeplift("revealcancel"),
    batch_copies=8,
    deeplift=True,
))
register(Method(
    name="genomics_default",
    description="DeepLIFT: RevealCancel after Dense layers, Rescale after convolutions",
    label="genomics default",
    short="genomics default (flat)",  # beside the report's genomics_default_shuffled
    scorer=_deeplift("revealcancel_after_dense"),
    batch_copies=8,
    deeplift=True,
))


def sequence_inputs(model: "Model") -> list[int]:
    """The model's inputs of shape ``(length, 4)``: the one-hot DNA that in-silico mutagenesis mutates."""
    return [i for i, shape in enumerate(model.input_shapes) if len(shape) == 2 and shape[-1] == 4]


def _forward_passes_per_sequence(model: "Model", width: int | None) -> int:
    """In-silico mutagenesis: the sequence's own forward pass and three per position of its one-hot inputs."""
    lengths = [model.input_shapes[i][0] or width or 0 for i in sequence_inputs(model)]
    return 1 + 3 * sum(lengths)


register(Method(
    name="ism",
    description="in-silico mutagenesis: every single-base substitution (contributions: the observed base's "
                "target minus the mean over the four bases; no references)",
    label="in-silico mutagenesis",
    short="ISM",
    scorer=Scorer("MutagenesisScorer"),
    batch_copies=_forward_passes_per_sequence,
    uses_references=False,
    one_hot_only=True,
    windowed=True,
))

#: the methods with inner-layer scores
DEEPLIFT_METHODS = tuple(name for name, method in METHODS.items() if method.deeplift)
