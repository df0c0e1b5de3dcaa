"""Exceptions raised by xanesviz: one line each, naming the file or input and the problem."""


class XanesvizError(ValueError):
    """Base class of every error this package raises on bad input."""


class StructureError(XanesvizError):
    """A structure that cannot be read or used (parse error, no absorber, overlapping atoms...)."""


class SpectrumFileError(XanesvizError):
    """A spectrum file that cannot be parsed or does not match the expected energy grid."""


class ModelBundleError(XanesvizError):
    """A model bundle that is missing, corrupt or incompatible with this package."""


class RecipeError(XanesvizError):
    """A training recipe with an unknown name, an unknown setting or a value out of range."""
