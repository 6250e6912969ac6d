"""Features, staging -> features: the named feature sets a model reads and the feature SQL's
parameters (`sets`), the feature stage that runs warehouse/features/*.sql as of a date and
writes its lake copy (`build`: the per-customer aggregates take in each load's new rows, the
point-in-time features read them), the rebuild of all of it from staging (`rebuild`), and the
BG/NBD + Gamma-Gamma lifetime value (`clv`)."""

from segments.core.lazy import lazy_exports

_EXPORTS = {
    "DEFAULT_FEATURE_SET": "sets",
    "FEATURE_SETS": "sets",
    "FeatureSet": "sets",
    "FeatureSetName": "sets",
    "feature_params": "sets",
    "get_feature_set": "sets",
    "settings_feature_params": "sets",
    "build_feature_stage": "build",
    "build_features": "build",
    "fit_probabilistic_clv": "build",
    "rebuild_features": "rebuild",
    "fit_clv": "clv",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
