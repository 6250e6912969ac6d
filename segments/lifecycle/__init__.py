"""The model lifecycle, features -> model -> scores: when to retrain and how a challenger is
trained, backtested and registered (`train`), the out-of-time business backtest
(`backtest`), when to retrain (`retrain`), the promotion rule (`promotion`), the registry and the champion (`registry`),
the segment catalog and its names (`catalog`), and scoring every customer (`score`). The
pure modelling it calls lives in segments.models."""

from segments.core.lazy import lazy_exports

_EXPORTS = {
    "RETRAIN_MODES": "retrain",
    "RetrainMode": "retrain",
    "retrain_due": "retrain",
    "train_challenger": "train",
    "train_stage": "train",
    "Champion": "registry",
    "current_champion": "registry",
    "rollback_model": "registry",
    "score_customers": "score",
    # monitoring re-scores matured publishes the way the backtest scores a model
    "backtest_assignments": "backtest",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
