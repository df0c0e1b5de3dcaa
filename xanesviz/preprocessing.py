"""The inputs' preprocessing: a variance filter and standardisation (scikit-learn, no TensorFlow).

Fitted at training time as a scikit-learn pipeline; an :class:`~xanesviz.ensemble.Ensemble`
keeps only its state as arrays (support, mean, scale), saved with numpy, never pickled.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


class VarianceFilter(TransformerMixin, BaseEstimator):
    """Keep the features whose variance is above the ``drop_fraction`` quantile (XANESNET: 25 %)."""

    def __init__(self, drop_fraction: float = 0.25):
        self.drop_fraction = drop_fraction

    def fit(self, X, y=None):
        variances = np.var(np.asarray(X, float), axis=0)
        n_drop = int(round(self.drop_fraction * len(variances)))
        order = np.argsort(variances, kind="stable")
        support = np.ones(len(variances), bool)
        support[order[:n_drop]] = False
        self.support_ = support & (variances > 0)
        return self

    def transform(self, X):
        return np.asarray(X, float)[:, self.support_]


def make_preprocessing(drop_fraction: float) -> Pipeline:
    """Variance filter followed by standardisation, as a scikit-learn pipeline."""
    return Pipeline([("variance", VarianceFilter(drop_fraction)), ("scale", StandardScaler())])


def preprocessing_state(pipeline: Pipeline) -> dict:
    """The fitted pipeline as plain arrays: ``support``, ``mean``, ``scale``."""
    return {"support": pipeline.named_steps["variance"].support_,
            "mean": pipeline.named_steps["scale"].mean_, "scale": pipeline.named_steps["scale"].scale_}
