"""The Docker-free bundler produces linux arm64 assets with the shared library and no tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from constructs.python_bundling import PythonBundle, _PipLocalBundling

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ELF_MACHINE_AARCH64 = 183


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    return int.from_bytes(header[18:20], "little")


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    bundle = PythonBundle(
        sources=(ROOT / "lambda_src" / "jwks_snapshot", ROOT / "lambda_src" / "mesh_identity"),
        requirements=ROOT / "lambda_src" / "requirements.txt",
        python_version="3.14",
    )
    output = tmp_path_factory.mktemp("asset")
    assert _PipLocalBundling(bundle).try_bundle(str(output)) is True
    return output


def test_bundle_contains_function_and_library(bundled: Path) -> None:
    assert (bundled / "jwks_snapshot" / "handler.py").is_file()
    assert (bundled / "mesh_identity" / "constants.py").is_file()


def test_bundle_native_code_is_arm64(bundled: Path) -> None:
    libraries = list((bundled / "cryptography").rglob("*.so"))
    assert libraries
    assert {_elf_machine(library) for library in libraries} == {ELF_MACHINE_AARCH64}


def test_bundle_has_no_tests_or_bytecode(bundled: Path) -> None:
    assert [path for path in bundled.rglob("__pycache__")] == []
    assert not (bundled / "tests").exists()


def test_asset_hash_changes_with_source(tmp_path: Path) -> None:
    source = tmp_path / "tool"
    source.mkdir()
    (source / "handler.py").write_text("A = 1\n")
    bundle = PythonBundle(sources=(source,), requirements=None, python_version="3.14")
    before = bundle.asset_hash()
    (source / "handler.py").write_text("A = 2\n")
    assert bundle.asset_hash() != before


def test_bundle_reports_missing_wheel(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("no-such-package-for-agent-mesh==0.0.1\n")
    source = tmp_path / "tool"
    source.mkdir()
    bundle = PythonBundle(sources=(source,), requirements=requirements, python_version="3.14")
    with pytest.raises(RuntimeError, match="manylinux aarch64 wheel"):
        _PipLocalBundling(bundle).try_bundle(str(tmp_path / "out"))
