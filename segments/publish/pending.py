"""Files written under a temporary name beside their target, then renamed into place.

Every reader file of a publish (serving.duckdb, lake Parquet, CRM exports) is first written
under a hidden temporary name and synced; only then are they renamed (os.replace: atomic on
POSIX, and a reader that already opened the old file keeps reading the old inode). A run
killed before the renames leaves every served file as it was; the next publish removes the
leftovers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from segments.settings import Settings

TMP_MARK = ".tmp-"


@dataclass
class PendingFiles:
    """Files written under temporary names, waiting to be renamed onto their targets."""

    pairs: list[tuple[Path, Path]] = field(default_factory=list)

    def add(self, tmp: Path, target: Path) -> None:
        _fsync(tmp)
        self.pairs.append((tmp, target))

    def swap(self) -> list[Path]:
        """Rename every pending file onto its target, in order; returns the targets."""
        for tmp, target in self.pairs:
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        return [target for _, target in self.pairs]


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
    """Temporary files of killed publishes (safe: the warehouse lock means one publisher)."""
    removed = []
    candidates = [
        *settings.home.glob(f".*{TMP_MARK}*"),
        *(settings.lake_dir / "marts").glob(f"**/.*{TMP_MARK}*"),
        *settings.exports_dir.glob(f".*{TMP_MARK}*"),
    ]
    for path in candidates:
        if path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
            if path.parent.name.startswith("as_of=") and not any(path.parent.iterdir()):
                path.parent.rmdir()  # a partition folder created only for the tmp file
    return removed
