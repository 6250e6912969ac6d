"""How the command line fails and logs: one message and a documented exit code per known
failure, quiet libraries, and the business facts of a run (through Prefect's run logger).

Without `--debug`: library logs below WARNING are off (Great Expectations alone printed 318
INFO lines a run), no traceback is printed for a known failure (it is said once, at the end),
and an unexpected one prints one line, its traceback going to SEGMENTS_HOME/logs/last-error.log.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from segments.core.errors import EXIT_CODES, SegmentsError, exit_code_of
from segments.settings import Settings, unknown_variables

# Loggers whose INFO is what a run did (Prefect's flow and task run loggers, the temporary
# server starting and stopping); everything else shows from WARNING up.
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs", "prefect")
_MAX_LINE = 300


class ConsoleFormatter(logging.Formatter):
    """`12:00:01 | INFO | Task run 'validate[staging]' - ...`; no tracebacks unless debug."""

    def __init__(self, debug: bool) -> None:
        super().__init__(datefmt="%H:%M:%S")
        self.debug = debug

    def format(self, record: logging.LogRecord) -> str:
        where = (
            f"Task run {record.task_run_name!r}"
            if getattr(record, "task_run_name", None)
            else f"Flow run {record.flow_run_name!r}"
            if getattr(record, "flow_run_name", None)
            else record.name
        )
        message = record.getMessage()
        if not self.debug:
            first = message.splitlines()[0] if message else ""
            if len(first) > _MAX_LINE or first != message:
                first = first[: _MAX_LINE - 1] + " …"
            message = first
        text = (
            f"{self.formatTime(record, self.datefmt)} | {record.levelname:7} | {where} - {message}"
        )
        if self.debug and record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class ConsoleFilter(logging.Filter):
    """Drop what the command says itself at the end: records about a known failure."""

    def __init__(self, debug: bool) -> None:
        super().__init__()
        self.debug = debug

    def filter(self, record: logging.LogRecord) -> bool:
        if self.debug:
            return True
        if record.levelno < logging.WARNING and not record.name.startswith(RUN_LOGGERS):
            return False
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, SegmentsError):
            return False
        return not (record.name.startswith(RUN_LOGGERS) and _about_known_failure(record))


def _about_known_failure(record: logging.LogRecord) -> bool:
    """Prefect's own lines about a failed task or flow name the exception in their text."""
    message = record.getMessage()
    return any(name in message for name in _known_error_names())


def _known_error_names() -> set[str]:
    names: set[str] = set()
    stack: list[type] = [SegmentsError]
    while stack:
        cls = stack.pop()
        names.add(cls.__name__)
        stack.extend(cls.__subclasses__())
    return names


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record comes (never a stream closed since).

    Public name on purpose: Prefect keeps a root handler as the user's only if its class name
    does not start with "_" (prefect.logging.configuration.setup_logging).
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def configure_logging(debug: bool) -> dict[str, Any]:
    """One console handler on the root logger; Prefect keeps it (it sees a user handler).

    Returns what it changed, for `restore_logging` (a command run in-process, as tests do).
    """
    changed = {
        name: logging.getLogger(name).level
        for name in ("", "prefect", "httpx", "httpcore", "great_expectations")
    }
    handler = StderrHandler()
    handler.setFormatter(ConsoleFormatter(debug))
    handler.addFilter(ConsoleFilter(debug))
    handler.segments_console = True  # type: ignore[attr-defined]  # ours, replaced on reuse
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "segments_console", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("prefect").setLevel(logging.INFO)
    for noisy in ("httpx", "httpcore", "great_expectations"):  # one line per API call ...
        logging.getLogger(noisy).setLevel(logging.INFO if debug else logging.WARNING)
    return changed


def restore_logging(changed: dict[str, Any]) -> None:
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "segments_console", False)]:
        root.removeHandler(old)
    for name, level in changed.items():
        logging.getLogger(name).setLevel(level)


def settings_error_lines(error: ValidationError) -> list[str]:
    """One line per bad SEGMENTS_* variable, instead of a traceback through pydantic."""
    return [
        f"error: SEGMENTS_{'_'.join(str(part) for part in detail['loc']).upper()}="
        f"{detail.get('input')!r}: {detail['msg'].removeprefix('Value error, ')} "
        "(see Settings in README.md)"
        for detail in error.errors()
    ]


def _wants_help(argv: list[str]) -> bool:
    return not argv or any(a in ("--help", "-h") for a in argv)


def _save_traceback(text: str) -> Path | None:
    try:
        folder = Settings().home / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "last-error.log"
        path.write_text(text)
        return path
    except Exception:  # noqa: BLE001 - the message matters more than where the traceback goes
        return None


def _fail(error: BaseException, debug: bool) -> int:
    """Say what failed, once; return the exit code."""
    code = exit_code_of(error)
    if debug:
        traceback.print_exception(error)
    if isinstance(error, SegmentsError):
        typer.echo(f"error: {error}", err=True)
    elif isinstance(error, KeyboardInterrupt):
        typer.echo("interrupted", err=True)
    else:
        text = "".join(traceback.format_exception(error))
        saved = None if debug else _save_traceback(text)
        first = (str(error).splitlines() or [""])[0][:_MAX_LINE]
        where = f"; traceback in {saved}" if saved else ""
        typer.echo(
            f"error: unexpected {type(error).__name__}: {first} (rerun with --debug{where})",
            err=True,
        )
    if code not in (0, 1, 2, 130) and not debug:  # bad input (2) is one line
        typer.echo(f"exit {code}: {EXIT_CODES[code]}", err=True)
    return code


def run_cli(app: typer.Typer, argv: list[str] | None = None) -> None:
    """Check settings first (exit 2, one line each), run the command, map failures to codes."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    changed = configure_logging(debug)
    try:
        _run(app, args, debug)
    finally:  # leave logging as it was (a command run in-process, as tests do)
        restore_logging(changed)


def _run(app: typer.Typer, args: list[str], debug: bool) -> None:
    for name in unknown_variables():
        typer.echo(f"warning: {name} is not a setting of segments (ignored); see README", err=True)
    if not _wants_help(args):
        try:
            Settings()
        except ValidationError as error:
            typer.echo("\n".join(settings_error_lines(error)), err=True)
            raise SystemExit(2) from None
    command = typer.main.get_command(app)
    try:  # usage errors, --help and typer.Exit end here with their own codes (SystemExit)
        command.main(args=args, prog_name="segments", standalone_mode=True)
    except SystemExit:
        raise
    except ValidationError as error:
        if error.title == "Settings":
            typer.echo("\n".join(settings_error_lines(error)), err=True)
            raise SystemExit(2) from None
        raise SystemExit(_fail(error, debug)) from None
    except BaseException as error:  # noqa: BLE001 - every failure becomes one message and a code
        raise SystemExit(_fail(error, debug)) from None
