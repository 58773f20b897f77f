"""Datasets bundled with scikit-learn, as dataset sources (`source = "lookout.scheduler.examples:NAME"`)."""

from __future__ import annotations

from lookout.scheduler.frame import Frame, frame_from_columns


def _bunch(loader_name: str) -> Frame:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, loader_name)()
    columns = {name: bunch.data[:, i] for i, name in enumerate(bunch.feature_names)}
    columns["target"] = bunch.target
    return frame_from_columns(columns)


def breast_cancer() -> Frame:
    """569 tumours, 30 numeric features, binary target."""
    return _bunch("load_breast_cancer")


def wine() -> Frame:
    """178 wines, 13 numeric features, three classes."""
    return _bunch("load_wine")


def diabetes() -> Frame:
    """442 patients, 10 numeric features, a continuous target (regression)."""
    return _bunch("load_diabetes")
