"""Build the mesh's stacks on an app; app.py and the tests both use this."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import aws_cdk as cdk

from constructs.compliance import apply_compliance_packs
from stacks.identity_stack import IdentityStack
from stacks.mesh_file import load_mesh_file
from stacks.mesh_stack import MeshStack
from stacks.network_stack import NetworkStack
from stacks.settings import MeshSettings, check_environment

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent


def environment_from(app: cdk.App) -> cdk.Environment:
    """Account and region from context, else ``CDK_DEFAULT_*``, else env-agnostic.

    Context ``mesh:account`` and ``mesh:region`` win, so a pipeline can pin a
    target. With neither set, the stacks synthesize without any AWS account.
    """
    account = app.node.try_get_context("mesh:account") or os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = app.node.try_get_context("mesh:region") or os.environ.get("CDK_DEFAULT_REGION")
    account = None if account is None else str(account)
    check_environment(account, region)
    return cdk.Environment(account=account, region=region)


def build_mesh(app: cdk.App, *, compliance: bool = True) -> dict[str, cdk.Stack]:
    """Add every stack of the mesh to ``app``, and the cdk-nag packs unless ``compliance`` is False."""
    settings = MeshSettings.from_context(app.node.try_get_context)
    # Validate the mesh first: a bad file must stop synthesis before any stack exists.
    mesh = load_mesh_file(REPOSITORY_ROOT / settings.mesh_file, root=REPOSITORY_ROOT)
    if not settings.deploy_nonce:
        # A new value on every synthesis makes the JWKS copy run on every deploy.
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        settings = MeshSettings(**{**settings.__dict__, "deploy_nonce": now})
    env = environment_from(app)
    prefix = settings.stack_prefix

    network = NetworkStack(
        app, f"{prefix}Network", settings=settings, env=env,
        description="Zero Trust Agent Mesh: isolated VPC, flow logs, PrivateLink endpoints",
    )  # fmt: skip
    identity = IdentityStack(
        app, f"{prefix}Identity", settings=settings, env=env,
        description="Zero Trust Agent Mesh: Cognito user pool and the JWKS snapshot",
    )  # fmt: skip
    mesh_stack = MeshStack(
        app, f"{prefix}Mesh", settings=settings, mesh=mesh, network=network, identity=identity, env=env,
        description="Zero Trust Agent Mesh: agents on AgentCore Runtime, memory, gateway, tools, ledger",
    )  # fmt: skip
    if compliance:
        apply_compliance_packs(app)
    return {"network": network, "identity": identity, "mesh": mesh_stack}
