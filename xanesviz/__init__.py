"""xanesviz: predict K-edge XANES from local geometry with a wACSF + MLP network (XANESNET)."""

__version__ = "0.1.0"

from .timing import mark as _mark

_mark("xanesviz import starts")

from .descriptor import WACSF
from .errors import ModelBundleError, RecipeError, SpectrumFileError, StructureError, XanesvizError
from .predictor import Predictor
from .spectrum import Broadening, Spectrum
from .structure import read_structure

__all__ = ["WACSF", "Predictor", "Spectrum", "Broadening", "read_structure", "XanesvizError",
           "StructureError", "SpectrumFileError", "ModelBundleError", "RecipeError", "__version__"]
