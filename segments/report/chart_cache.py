"""Charts that only change with the model, drawn once and reused by every report of it.

The model section's candidate charts and the stored PCA / t-SNE views depend on what was
fixed when the model was trained (ops.model_candidates, ops.model_embeddings), yet building
and serialising them was a large share of each night's report. Their HTML is kept beside the
model artifact (models/<version>.report/<chart>-<digest>.html), keyed by a digest of every
input (data, segment names and colours, plotly version), so a reused chart is byte for byte
the chart the report would draw; a change in any input draws it anew. The files are plain
text under SEGMENTS_HOME, so `segments forget` redacts them like the reports themselves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import plotly
import plotly.graph_objects as go

PLACEHOLDER = "segments-cached-chart-id"  # the div id in a stored chart, replaced on use


@dataclass
class CachedFigure:
    """A figure of a report section that `inputs` alone decide (see the module)."""

    name: str
    inputs: tuple[Any, ...]
    build: Callable[[], go.Figure]


def digest(name: str, inputs: tuple[Any, ...], template: str) -> str:
    """A digest of everything the figure is drawn from."""
    h = hashlib.sha256(f"{name}|{plotly.__version__}|{template}".encode())
    for part in inputs:
        if isinstance(part, pd.DataFrame):
            h.update(json.dumps([[str(c) for c in part.columns], [str(t) for t in part.dtypes]])
                     .encode())  # fmt: skip
            try:
                h.update(pd.util.hash_pandas_object(part, index=True).to_numpy().tobytes())
            except TypeError:  # unhashable cells (lists): their text
                h.update(part.to_csv().encode())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


def cache_dir(artifact_path: str) -> Path | None:
    """models/<version>.report/ beside the model's artifact (None without an artifact)."""
    if not artifact_path:
        return None
    artifact = Path(artifact_path)
    return artifact.with_name(f"{artifact.stem}.report") if artifact.exists() else None


def cached_html(
    figure: CachedFigure,
    folder: Path | None,
    div_id: str,
    template: str,
    to_html: Callable[[go.Figure, str], str],
) -> str:
    """The figure's div and script under `div_id`: stored HTML if its inputs match, else drawn
    (and stored for the next report)."""
    if folder is None:
        return to_html(figure.build(), div_id)
    path = folder / f"{figure.name}-{digest(figure.name, figure.inputs, template)}.html"
    if path.is_file():
        return path.read_text(encoding="utf-8").replace(PLACEHOLDER, div_id)
    html = to_html(figure.build(), PLACEHOLDER)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(html, encoding="utf-8")
        tmp.replace(path)
    except OSError:  # a read-only models folder only means drawing it again next time
        pass
    return html.replace(PLACEHOLDER, div_id)
