"""Package APIs whose names are imported on first use, so importing a package stays cheap.

A stage package lists its public names and the submodule that defines each; other stages
import those names from the package (the layer contract in pyproject.toml checks it), and
only the submodule actually used is loaded (GX, scikit-learn and plotly are slow to import).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, resolving each name from its submodule."""
    namespace = import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{package}.{exports[name]}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
