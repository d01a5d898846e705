# SPDX-License-Identifier: Apache-2.0
"""Entry point of the Support agent on AgentCore Runtime: build the app from the environment and serve it."""

from support_agent.app import build_app_from_environment


def main() -> None:
    """Serve the agent on MESH_AGENT_HOST:MESH_AGENT_PORT (default 0.0.0.0:8080, the runtime's contract)."""
    app, settings = build_app_from_environment()
    app.run(port=settings.port, host=settings.host)


if __name__ == "__main__":
    main()
