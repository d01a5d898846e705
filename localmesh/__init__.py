"""A local mesh: the project's own agents and handlers wired together on loopback.

The Lambda code (``lambda_src``) and each agent's folder are deployed as the
root of their code assets, so their packages import as top-level modules
(``mesh_identity``, ``ledger``, ``support_agent``). Importing this package puts
those folders on ``sys.path``, so ``python -m localmesh`` works from a plain
checkout without the pytest ``pythonpath`` setting.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

REPOSITORY_ROOT: Final = Path(__file__).resolve().parent.parent
# The agents' folders hold a main.py each; both go on sys.path, but no code
# imports "main" by name, so the two cannot shadow each other.
SOURCE_FOLDERS: Final = (
    REPOSITORY_ROOT,
    REPOSITORY_ROOT / "lambda_src",
    REPOSITORY_ROOT / "agents" / "support",
    REPOSITORY_ROOT / "agents" / "transaction",
)


def _add_source_folders() -> None:
    for folder in reversed(SOURCE_FOLDERS):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))


_add_source_folders()
