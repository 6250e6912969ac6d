"""Who may read what the pipeline writes: files 600 and folders 700 under SEGMENTS_HOME.

Set once per process, as a umask, at every entry point (the CLI, every flow and so the
`segments serve` process), so every writer (DuckDB, Parquet, GX Data Docs, the report,
exports) follows it without a chmod of its own. `SEGMENTS_FILE_ACCESS=group` lets the
owner's group read (640/750); nothing is ever readable by others.
"""

from __future__ import annotations

import os

from segments.settings import Settings

UMASKS = {"owner": 0o077, "group": 0o027}
FOLDER_MODES = {"owner": 0o700, "group": 0o750}


def apply_file_access(settings: Settings) -> None:
    """Set this process's umask; close an existing home that older versions left at 755."""
    os.umask(UMASKS[settings.file_access])
    home = settings.home
    if home.is_dir() and home.stat().st_uid == os.getuid():
        home.chmod(FOLDER_MODES[settings.file_access])
