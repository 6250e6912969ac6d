"""`python -m segments.cli`: the same as the `segments` console script."""

from segments.cli.app import main

main()
