"""Pure-Python segmentation modelling: preprocessing, candidates, selection, persistence."""

from segments.models.config import TrainConfig
from segments.models.embed import Embedding, embed
from segments.models.identity import SegmentMatch, inherit_names, match_segments
from segments.models.model import SegmentModel, data_checksum
from segments.models.preprocess import OutlierCapper, build_preprocessor
from segments.models.profiles import Profiles, profile_segments
from segments.models.selection import SELECTION_RULE, Selection, select
from segments.models.sufficiency import InsufficientDataError, check_sufficiency
from segments.models.train import TrainResult, train

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
    "embed",
    "inherit_names",
    "match_segments",
    "profile_segments",
    "select",
    "train",
]
