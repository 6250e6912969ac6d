"""The model lifecycle, features -> model -> scores: how a challenger is chosen and
registered (`train`), the snapshots of the past it is judged on (`snapshots`, `backtest`),
how good its segments are against their peers (`evaluation`), when to retrain
(`retrain`), the promotion rule (`promotion`), the registry, the champion and a kept-back
challenger (`registry`), the segment catalog and its names (`catalog`), and scoring every
customer (`score`). The pure modelling it calls lives in segments.models."""

from segments.core.lazy import lazy_exports

_EXPORTS = {
    "RETRAIN_MODES": "retrain",
    "RetrainMode": "retrain",
    "retrain_due": "retrain",
    "train_challenger": "train",
    "train_stage": "train",
    # the rows a model reads: the feature set's relation plus the lifetime-value columns
    "load_features": "train",
    "TrainingRows": "sample",
    "AUTO_RULES": "retrain",
    "RetrainInputs": "retrain",
    "PROMOTION_RULE": "promotion",
    "kept_back": "registry",
    "Champion": "registry",
    "current_champion": "registry",
    "rollback_model": "registry",
    "score_customers": "score",
    "require_champion": "score",
    # scale-out: each bucket predicts on a worker, the flow process writes the gathered rows
    "champion_or_fail": "score",
    "predict_segments": "score",
    "write_scores": "score",
    # monitoring re-scores matured publishes the way the backtest scores a model
    "backtest_assignments": "backtest",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
