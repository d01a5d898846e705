"""Bundle Python code for linux arm64 without Docker.

pip downloads manylinux aarch64 wheels for the target Python version into the
asset folder (``--platform``, ``--only-binary=:all:``), then the source
folders are copied beside them. Synthesis therefore works on a machine with
no Docker engine. The asset hash is computed from the exact files copied,
the requirements file and the target platform, so an unchanged asset is not
bundled again and a changed one always is.

Set the context value ``aws:cdk:bundling-stacks`` to ``[]`` to skip bundling
(the tests do); the asset then holds only the source folder.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii

# Exact versions of transitive dependencies, shared with the development environment.
CONSTRAINTS = Path(__file__).resolve().parent.parent / "constraints.txt"
# Wheels for Graviton. manylinux2014 is glibc 2.17, which every Lambda and
# AgentCore Runtime Python image satisfies.
PIP_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
_IGNORED_NAMES = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", ".pytest_cache", "*.dist-info")


@dataclass(frozen=True)
class PythonBundle:
    """The contents of one asset.

    Parameters
    ----------
    sources:
        Folders copied to the asset root, each under its own folder name
        (for example ``lambda_src/ledger`` and ``lambda_src/mesh_identity``),
        except the first one with ``flatten_first``.
    requirements:
        A pip requirements file with pinned versions, or None.
    python_version:
        Target interpreter as ``"3.14"``.
    """

    sources: tuple[Path, ...]
    requirements: Path | None
    python_version: str
    # Copy the first source's contents to the asset root instead of into a
    # folder of its own (an agent's main.py must sit at the root).
    flatten_first: bool = False

    def asset_hash(self) -> str:
        """Hash every file that ends up in the asset, plus the pip target."""
        digest = hashlib.sha256()
        digest.update(
            f"python={self.python_version};platforms={','.join(PIP_PLATFORMS)};flat={self.flatten_first}".encode()
        )
        inputs = [*self.sources, *([self.requirements, CONSTRAINTS] if self.requirements else [])]
        for root in inputs:
            files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
            for path in files:
                if "__pycache__" in path.parts or path.suffix == ".pyc":
                    continue
                digest.update(str(path.relative_to(root.parent)).encode())
                digest.update(path.read_bytes())
        return digest.hexdigest()

    def code_options(self) -> dict[str, Any]:
        """Keyword arguments for `Code.from_asset` or `s3_assets.Asset`."""
        return {
            "path": str(self.sources[0]),
            "asset_hash": self.asset_hash(),
            "asset_hash_type": cdk.AssetHashType.CUSTOM,
            "bundling": cdk.BundlingOptions(
                # Not pulled: _PipLocalBundling returns True or raises, so CDK never falls back to Docker.
                image=cdk.DockerImage.from_registry("local-bundling-only"),
                local=_PipLocalBundling(self),
            ),
        }


@jsii.implements(cdk.ILocalBundling)
class _PipLocalBundling:
    def __init__(self, bundle: PythonBundle) -> None:
        self._bundle = bundle

    def try_bundle(self, output_dir: str, options: Any = None) -> bool:
        output = Path(output_dir)
        if self._bundle.requirements is not None:
            _pip_install(self._bundle.requirements, output, self._bundle.python_version)
        for index, source in enumerate(self._bundle.sources):
            target = output if index == 0 and self._bundle.flatten_first else output / source.name
            shutil.copytree(source, target, ignore=_IGNORED_NAMES, dirs_exist_ok=True)
        return True


def _pip_install(requirements: Path, target: Path, python_version: str) -> None:
    platform_flags = [flag for platform in PIP_PLATFORMS for flag in ("--platform", platform)]
    command = [
        sys.executable, "-m", "pip", "install",
        "--quiet", "--disable-pip-version-check", "--no-compile",
        "--requirement", str(requirements),
        *(["--constraint", str(CONSTRAINTS)] if CONSTRAINTS.is_file() else []),
        "--target", str(target),
        *platform_flags,
        "--implementation", "cp",
        "--python-version", python_version,
        "--only-binary=:all:",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"pip could not install {requirements} for linux arm64 Python {python_version} "
            f"(exit code {result.returncode}): {result.stderr.strip()[-2000:]}\n"
            "Check that every pinned package publishes a manylinux aarch64 wheel for that Python version."
        )
