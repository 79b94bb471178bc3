"""``deeplift.visualization``: :mod:`.viz_sequence` draws scores as sequence logos."""
from seqlift.compat.deeplift.visualization import viz_sequence

__all__ = ["viz_sequence"]
