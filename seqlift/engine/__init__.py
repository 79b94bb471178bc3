"""The batched DeepLIFT engine: rules, the backward pass, and ``attribute``."""
from seqlift.engine.attribution import DEEPLIFT_METHODS, METHODS, Attribution, attribute

__all__ = ["attribute", "Attribution", "METHODS", "DEEPLIFT_METHODS"]
