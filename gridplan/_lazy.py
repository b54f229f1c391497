"""Lazy package surfaces: a public name is imported from its module on first use.

Used by the packages whose modules pull in heavy libraries (Folium, OR-Tools, Dask), so that
``import gridplan`` and ``gridplan --help`` stay instant.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_surface"]


def lazy_surface(
    package: str, public: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose ``public`` maps each public name
    to the module that defines it; a name is imported once, then kept in the package."""

    def __getattr__(name: str) -> Any:
        module = public.get(name)
        if module is None:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(public))

    return __getattr__, __dir__
