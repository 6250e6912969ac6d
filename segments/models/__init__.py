"""Pure-Python segmentation modelling: preprocessing, candidates, selection, persistence.

Names are imported lazily, so `segments.models.config` (used by flow parameters) does not pay
for importing scikit-learn. The entry points live in same-named modules and are not re-exported
(a package attribute cannot be both module and function): use
`from segments.models.train import train` and `from segments.models.embed import embed`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # static checkers and IDEs see the real names
    from segments.models.config import TrainConfig
    from segments.models.embed import Embedding
    from segments.models.identity import (
        SegmentMatch,
        inherit_names,
        match_segments,
        member_centroids,
    )
    from segments.models.model import SegmentModel, data_checksum
    from segments.models.preprocess import OutlierCapper, build_preprocessor
    from segments.models.profiles import Profiles, profile_segments
    from segments.models.selection import SELECTION_RULE, Selection, select
    from segments.models.sufficiency import InsufficientDataError, check_sufficiency
    from segments.models.train import TrainResult

_EXPORTS = {
    "TrainConfig": "config",
    "Embedding": "embed",
    "SegmentMatch": "identity",
    "inherit_names": "identity",
    "match_segments": "identity",
    "member_centroids": "identity",
    "SegmentModel": "model",
    "data_checksum": "model",
    "OutlierCapper": "preprocess",
    "build_preprocessor": "preprocess",
    "Profiles": "profiles",
    "profile_segments": "profiles",
    "SELECTION_RULE": "selection",
    "Selection": "selection",
    "select": "selection",
    "InsufficientDataError": "sufficiency",
    "check_sufficiency": "sufficiency",
    "TrainResult": "train",
}

__all__ = [
    "SELECTION_RULE",
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
