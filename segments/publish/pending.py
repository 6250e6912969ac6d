"""Files written under a temporary name beside their target, then renamed into place.

Every reader file of a publish (serving.duckdb, lake Parquet, CRM exports) is first written
under a hidden temporary name and synced, and a manifest listing them is written; only then
are they renamed (os.replace: atomic on POSIX, and a reader that already opened the old file
keeps reading the old inode), serving.duckdb first: its rename is the moment the publish
happens. A run killed before it leaves every served file as it was; one killed after it is
finished by the next run from the manifest (publish/recover.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from segments.settings import Settings

TMP_MARK = ".tmp-"
MANIFEST = ".publish-manifest.json"


@dataclass
class PendingFiles:
    """Files written under temporary names, waiting to be renamed onto their targets."""

    pairs: list[tuple[Path, Path]] = field(default_factory=list)
    serving: tuple[Path, Path] | None = None

    def add(self, tmp: Path, target: Path, *, serving: bool = False) -> None:
        _fsync(tmp)
        if serving:
            self.serving = (tmp, target)
        else:
            self.pairs.append((tmp, target))

    def ordered(self) -> list[tuple[Path, Path]]:
        """The serving file first (the commit point), then every other file."""
        return ([self.serving] if self.serving else []) + self.pairs

    def write_manifest(self, settings: Settings, run_id: str) -> Path:
        """Say, durably, which renames make up this publish (before the first one)."""
        path = manifest_path(settings)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(
            json.dumps(
                {
                    "run_id": run_id,
                    "serving": [str(p) for p in self.serving] if self.serving else None,
                    "pairs": [[str(a), str(b)] for a, b in self.pairs],
                }
            )
        )
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        return path

    def swap(self, after_serving: Callable[[], None] | None = None) -> list[Path]:
        """Rename every pending file onto its target, serving first; returns the targets."""
        for tmp, target in self.ordered():
            os.replace(tmp, target)
            _fsync_dir(target.parent)
            if after_serving is not None and (tmp, target) == self.serving:
                after_serving()
        return [target for _, target in self.ordered()]

    def discard(self) -> None:
        for tmp, _ in self.ordered():
            tmp.unlink(missing_ok=True)


def manifest_path(settings: Settings) -> Path:
    return settings.home / MANIFEST


def read_manifest(settings: Settings) -> dict | None:
    try:
        return json.loads(manifest_path(settings).read_text())
    except FileNotFoundError:
        return None
    except ValueError:  # half-written before its rename: no rename of that publish happened
        return {"run_id": None, "serving": None, "pairs": []}


def tmp_name(target: Path, run_id: str) -> Path:
    """A hidden sibling: same filesystem (so rename is atomic), ignored by Parquet readers."""
    return target.parent / f".{target.name}{TMP_MARK}{run_id}"


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a crash right after it must not undo it)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_leftovers(settings: Settings) -> list[Path]:
    """Temporary files of killed runs (safe: the warehouse lock means one writer).

    Publish files (`.<name>.tmp-<run>`), a DuckDB temp file's WAL, lake copies being renamed
    (`*.parquet.tmp`), a report being written (`.index.html.*.tmp`) and half-written
    journal or manifest files.
    """
    home = settings.home
    patterns = [
        (home, f".*{TMP_MARK}*"),
        (home, ".*.json.tmp"),
        (settings.lake_dir, f"**/.*{TMP_MARK}*"),
        (settings.lake_dir, "**/*.parquet.tmp"),
        (settings.lake_dir, "**/.*.parquet.tmp"),
        (settings.exports_dir, f".*{TMP_MARK}*"),
        (settings.reports_dir, "**/.*.tmp"),
        (home / ".journal", ".*.tmp"),
    ]
    removed = []
    for folder, pattern in patterns:
        if not folder.is_dir():
            continue
        for path in folder.glob(pattern):
            if path.is_file():
                path.unlink(missing_ok=True)
                removed.append(path)
                if path.parent.name.startswith("as_of=") and not any(path.parent.iterdir()):
                    path.parent.rmdir()  # a partition folder created only for the tmp file
    return removed
