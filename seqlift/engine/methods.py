"""Every attribution method, declared once: the registry the rest of seqlift reads.

A :class:`Method` says what a value of ``method=`` is called and shown as
(its description, its label in reports, its short name in the Figure 5
tables), how its per-batch scores are computed (a :class:`Scorer` of
:mod:`seqlift.engine.scorers`), what one (sequence, reference) pair costs in
memory (for the automatic batch size) and whether it is a DeepLIFT method
(multipliers at every node, so inner-layer scores can be asked for).

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

__all__ = ["DEEPLIFT_METHODS", "METHODS", "Method", "Scorer", "register"]


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
        divides its budget by. A callable takes the model (for a cost that
        depends on it, such as one forward pass per substitution).
    deeplift : bool
        Multipliers reach every node, so ``layers=`` (inner-layer scores) can be asked for.
    uses_steps : bool
        ``steps`` changes the result (integrated gradients).
    """

    name: str
    description: str
    label: str
    short: str
    scorer: Scorer
    batch_copies: int | Callable[["Model"], int] = 4
    deeplift: bool = False
    uses_steps: bool = False

    def copies(self, model: "Model") -> int:
        """:attr:`batch_copies` for ``model``."""
        return int(self.batch_copies(model) if callable(self.batch_copies) else self.batch_copies)


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

#: the methods with inner-layer scores
DEEPLIFT_METHODS = tuple(name for name, method in METHODS.items() if method.deeplift)
