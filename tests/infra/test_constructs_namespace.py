"""The project's constructs/ folder joins the `constructs` library's namespace without shadowing it."""

from __future__ import annotations

import importlib
from pathlib import Path

import constructs
from constructs import Construct
from constructs.isolated_vpc import IsolatedVpc

PROJECT_CONSTRUCTS = Path(__file__).resolve().parents[2] / "constructs"


def test_library_construct_still_imports() -> None:
    # Construct comes from the jsii library, not from a file of this project.
    assert Construct.__module__ == "constructs"


def test_project_construct_is_a_library_construct() -> None:
    assert issubclass(IsolatedVpc, Construct)


def test_project_folder_has_no_init_file() -> None:
    # An __init__.py here would make the folder shadow the library.
    assert not (PROJECT_CONSTRUCTS / "__init__.py").exists()


def test_project_modules_do_not_reuse_library_names() -> None:
    library_folder = Path(importlib.util.find_spec("constructs._jsii").origin).parent.parent
    library_names = {path.stem for path in library_folder.iterdir() if path.name != "__pycache__"}
    project_names = {path.stem for path in PROJECT_CONSTRUCTS.glob("*.py")}
    assert project_names & library_names == set()


def test_namespace_path_contains_both_folders() -> None:
    paths = [Path(entry).resolve() for entry in constructs.__path__]
    assert PROJECT_CONSTRUCTS in paths
