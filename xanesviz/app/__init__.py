"""The dashboard widgets (no science here): ``Dashboard()`` in a notebook or ``voila app.ipynb``."""

from .dashboard import Dashboard

__all__ = ["Dashboard"]
