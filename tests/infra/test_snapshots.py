"""Snapshots of every template, so a reviewer finds each change to the deployed resources.

Asset hashes depend on the bytes of the bundled code and the machine that
built them, so they are replaced by a placeholder before comparison. Update
with `pytest tests/infra/test_snapshots.py --snapshot-update` and say in the
commit why the template changed.
"""

from __future__ import annotations

import json
import re

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

_ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def _normalized(template: dict) -> dict:
    text = _ASSET_HASH.sub("<asset-hash>", json.dumps(template, sort_keys=True))
    return json.loads(text)


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack", ["network", "identity", "mesh"])
def test_template_snapshot(synthesized, snapshot_json, stack: str) -> None:
    assert _normalized(synthesized.template_json(stack)) == snapshot_json
