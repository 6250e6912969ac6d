"""Which landing files are ready to load: new or changed, and no longer being written.

A poll lists `landing/<source>/` of every built-in file source. A file is ready when
- its name is not a temporary one (dotfiles, and names ending in `.tmp`, `.part`, `.partial`,
  `.crdownload`, `.download`, `.filepart` or `~`: a writer that uploads under such a name and
  renames at the end is loaded right after the rename), and it is not empty;
- its size and modification time were the same at the previous poll, one interval ago (a
  file still being written changes between polls, so it waits);
- that (size, mtime) was not handled already (a rewritten file is loaded again; ingest
  recognises identical content and records it as skipped).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from segments.ingest import SourceMapping, builtin_mappings
from segments.settings import Settings

PARTIAL_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".download", ".filepart", "~")

Signature = tuple[int, int]  # (size in bytes, mtime in ns)


@dataclass(frozen=True)
class LandedFile:
    """A landing file that is ready, with the mapping it loads through."""

    source: str
    path: Path
    signature: Signature


def is_partial(path: Path) -> bool:
    """A name writers use while a file is incomplete."""
    return path.name.startswith(".") or path.name.lower().endswith(PARTIAL_SUFFIXES)


def _signature(path: Path) -> Signature | None:
    try:
        st = path.stat()
    except FileNotFoundError:  # moved away between listing and stat
        return None
    return st.st_size, st.st_mtime_ns


class LandingWatcher:
    """Remembers what each poll saw, so a file is ready only once it stopped changing."""

    def __init__(self, landing_dir: Path, mappings: dict[str, SourceMapping]) -> None:
        self.landing_dir = landing_dir
        self.mappings = {n: m for n, m in mappings.items() if m.database is None}
        self._seen: dict[Path, Signature] = {}
        self._handled: dict[Path, Signature] = {}

    def _listing(self) -> dict[Path, tuple[str, Signature]]:
        found = {}
        for name, mapping in sorted(self.mappings.items()):
            folder = self.landing_dir / name
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob(mapping.file_pattern)):
                if path.is_file() and not is_partial(path):
                    signature = _signature(path)
                    if signature is not None and signature[0] > 0:
                        found[path] = (name, signature)
        return found

    def poll(self) -> list[LandedFile]:
        """Files stable since the previous poll and not handled in that version, name order."""
        listing = self._listing()
        ready = [
            LandedFile(source, path, signature)
            for path, (source, signature) in listing.items()
            if self._seen.get(path) == signature and self._handled.get(path) != signature
        ]
        self._seen = {path: signature for path, (_, signature) in listing.items()}
        self._handled = {p: s for p, s in self._handled.items() if p in listing}
        return ready

    def mark_handled(self, files: list[LandedFile]) -> None:
        """These versions were loaded (or failed as a load): do not offer them again."""
        for landed in files:
            self._handled[landed.path] = landed.signature


def landing_watcher(settings: Settings) -> LandingWatcher:
    """A watcher over every built-in file source's landing folder."""
    return LandingWatcher(settings.landing_dir, builtin_mappings(settings.sql_dir))
