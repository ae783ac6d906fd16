"""Ship the collector's price table inside the package.

The single source of truth is ``internal/pricing/prices.json`` at the root of
the repository. A build from the source tree copies it into the wheel (and
the sdist); a build from an sdist finds it already in the package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

TARGET = "agentpulse/prices.json"


class PricesHook(BuildHookInterface):
    """Adds prices.json to the wheel and the sdist."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Point the build at the repository's prices.json when it is there."""
        if version == "editable":
            return  # a source checkout reads the repository's file at run time
        root = Path(self.root)
        repo_file = root.parent.parent / "internal" / "pricing" / "prices.json"
        packaged = root / "src" / TARGET
        if repo_file.is_file():
            dest = TARGET if self.target_name == "wheel" else f"src/{TARGET}"
            build_data["force_include"][str(repo_file)] = dest
        elif not packaged.is_file():
            raise FileNotFoundError(f"prices.json is neither at {repo_file} nor at {packaged}")
