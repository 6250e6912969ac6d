"""Pure segmentation modelling, no warehouse and no Prefect: feature spaces and value
columns (`spaces`), preprocessing (`preprocess`), clustering families (`algorithms`),
predictive trees (`predictive`), candidate recipes (`recipes`), metrics (`metrics`), the
out-of-time selection (`backtest_select`) and the geometric fallback (`selection`, `train`),
the persisted model (`model`), profiles, names and identity across retrains (`profiles`,
`naming`, `identity`), 2-D embeddings (`embed`).

Names are imported lazily, so `TrainConfig` (used by flow parameters) does not pay for
importing scikit-learn.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # static checkers and IDEs see the real names
    from segments.models.backtest_select import (
        OBJECTIVES,
        SELECTION_RULE_OOT,
        BacktestChoice,
        BacktestInputs,
        objective_value,
        select_by_backtest,
    )
    from segments.models.config import ALGORITHMS, RECIPES, Algorithm, RecipeName, TrainConfig
    from segments.models.embed import Embedding, embed_model, embed_segments
    from segments.models.identity import (
        SegmentMatch,
        inherit_names,
        match_segments,
        member_centroids,
    )
    from segments.models.metrics import outcome_scores
    from segments.models.model import SegmentModel, data_checksum
    from segments.models.naming import fmt_value, humanize
    from segments.models.preprocess import OutlierCapper, build_preprocessor
    from segments.models.profiles import Profiles, feature_stats, profile_segments
    from segments.models.recipes import Recipe, Snapshot, fit_recipe, recipe_grid, training_pool
    from segments.models.selection import SELECTION_RULE, Selection, select
    from segments.models.spaces import VALUE_COLUMNS, with_value_columns
    from segments.models.sufficiency import InsufficientDataError, check_sufficiency
    from segments.models.train import TrainResult, fit_segmentation

_EXPORTS = {
    "OBJECTIVES": "backtest_select",
    "SELECTION_RULE_OOT": "backtest_select",
    "BacktestChoice": "backtest_select",
    "BacktestInputs": "backtest_select",
    "objective_value": "backtest_select",
    "select_by_backtest": "backtest_select",
    "RECIPES": "config",
    "RecipeName": "config",
    "outcome_scores": "metrics",
    "Recipe": "recipes",
    "Snapshot": "recipes",
    "fit_recipe": "recipes",
    "recipe_grid": "recipes",
    "training_pool": "recipes",
    "VALUE_COLUMNS": "spaces",
    "with_value_columns": "spaces",
    "ALGORITHMS": "config",
    "Algorithm": "config",
    "TrainConfig": "config",
    "Embedding": "embed",
    "embed_segments": "embed",
    "embed_model": "embed",
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
    "OBJECTIVES",
    "RECIPES",
    "SELECTION_RULE",
    "SELECTION_RULE_OOT",
    "VALUE_COLUMNS",
    "Algorithm",
    "BacktestChoice",
    "BacktestInputs",
    "Embedding",
    "InsufficientDataError",
    "OutlierCapper",
    "Profiles",
    "Recipe",
    "RecipeName",
    "SegmentMatch",
    "SegmentModel",
    "Selection",
    "Snapshot",
    "TrainConfig",
    "TrainResult",
    "build_preprocessor",
    "check_sufficiency",
    "data_checksum",
    "embed_model",
    "embed_segments",
    "feature_stats",
    "fit_recipe",
    "fit_segmentation",
    "fmt_value",
    "humanize",
    "inherit_names",
    "match_segments",
    "member_centroids",
    "objective_value",
    "outcome_scores",
    "profile_segments",
    "recipe_grid",
    "select",
    "select_by_backtest",
    "training_pool",
    "with_value_columns",
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
