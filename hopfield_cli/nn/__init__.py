"""The paper's Hopfield layers as ``torch.nn.Module``s (torch only): ``Hopfield``, ``HopfieldPooling``,
``HopfieldLayer``. Argument and parameter names follow the official ``hflayers``; README "Hopfield layers" maps
its options and says where this package chooses differently."""

from hopfield_cli.nn.hopfield import Hopfield
from hopfield_cli.nn.pooling import HopfieldLayer, HopfieldPooling

__all__ = ["Hopfield", "HopfieldLayer", "HopfieldPooling"]
