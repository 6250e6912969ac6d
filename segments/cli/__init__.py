"""The `segments` command line, the top layer: commands (`app`) and serving every deployment
of prefect.yaml from one process (`serve`). It may import flows, tasks and every stage."""

from segments.cli.app import app, main

__all__ = ["app", "main"]
