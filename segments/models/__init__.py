"""Pure segmentation modelling, no warehouse and no Prefect: preprocessing (`preprocess`),
candidate families (`algorithms`), metrics and selection (`metrics`, `selection`), fitting
(`train`: `fit_segmentation`), the persisted model (`model`), profiles, names and identity
across retrains (`profiles`, `naming`, `identity`), 2-D embeddings for the report (`embed`).

Names are imported lazily, so `TrainConfig` (used by flow parameters) does not pay for
importing scikit-learn.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # static checkers and IDEs see the real names
    from segments.models.config import ALGORITHMS, Algorithm, TrainConfig
    from segments.models.embed import Embedding, embed_segments
    from segments.models.identity import (
        SegmentMatch,
        inherit_names,
        match_segments,
        member_centroids,
    )
    from segments.models.model import SegmentModel, data_checksum
    from segments.models.naming import fmt_value, humanize
    from segments.models.preprocess import OutlierCapper, build_preprocessor
    from segments.models.profiles import Profiles, feature_stats, profile_segments
    from segments.models.selection import SELECTION_RULE, Selection, select
    from segments.models.sufficiency import InsufficientDataError, check_sufficiency
    from segments.models.train import TrainResult, fit_segmentation

_EXPORTS = {
    "ALGORITHMS": "config",
    "Algorithm": "config",
    "TrainConfig": "config",
    "Embedding": "embed",
    "embed_segments": "embed",
    "SegmentMatch": "identity",
    "inherit_names": "identity",
    "match_segments": "identity",
    "member_centroids": "identity",
    "SegmentModel": "model",
    "data_checksum": "model",
    "OutlierCapper": "preprocess",
    "build_preprocessor": "preprocess",
    "fmt_value": "naming",
    "humanize": "naming",
    "Profiles": "profiles",
    "feature_stats": "profiles",
    "profile_segments": "profiles",
    "SELECTION_RULE": "selection",
    "Selection": "selection",
    "select": "selection",
    "InsufficientDataError": "sufficiency",
    "check_sufficiency": "sufficiency",
    "TrainResult": "train",
    "fit_segmentation": "train",
}

__all__ = [
    "ALGORITHMS",
    "SELECTION_RULE",
    "Algorithm",
    "Embedding",
    "InsufficientDataError",
    "OutlierCapper",
    "Profiles",
    "SegmentMatch",
    "SegmentModel",
    "Selection",
    "TrainConfig",
    "TrainResult",
    "build_preprocessor",
    "check_sufficiency",
    "data_checksum",
    "embed_segments",
    "feature_stats",
    "fit_segmentation",
    "fmt_value",
    "humanize",
    "inherit_names",
    "match_segments",
    "member_centroids",
    "profile_segments",
    "select",
]


def __getattr__(name: str) -> Any:
    """Import the submodule that defines a public name on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the public names for completion."""
    return __all__
