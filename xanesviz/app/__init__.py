"""The dashboard widgets (no science here): ``Dashboard()`` in a notebook or ``voila app.ipynb``."""

from ..timing import mark
from .dashboard import Dashboard

mark("imports done")

__all__ = ["Dashboard"]
