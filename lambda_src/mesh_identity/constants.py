"""Names shared by every hop of the mesh: headers, environment variables, scopes.

Every component imports these names from here, so a header renamed in one
place is renamed on every hop. AgentCore Runtime forwards a custom header to
the agent code only if the header is on the runtime's request-header allowlist
(at most 20 names, each value at most 4 KB). Names that start with
``x-amz-`` are reserved for SigV4, and the Python SDK forwards only headers
with the ``X-Amzn-Bedrock-AgentCore-Runtime-Custom-`` prefix, so the mesh's
own headers use that prefix.
"""

from types import MappingProxyType
from typing import Final

RUNTIME_CUSTOM_HEADER_PREFIX: Final = "X-Amzn-Bedrock-AgentCore-Runtime-Custom-"

# The end user's Cognito access token, propagated on every hop after the first.
USER_TOKEN_HEADER: Final = RUNTIME_CUSTOM_HEADER_PREFIX + "User-Token"
# The runtime session id of the user's conversation, propagated to the Gateway hop.
SESSION_ID_HEADER: Final = RUNTIME_CUSTOM_HEADER_PREFIX + "Session-Id"
# The header in which AgentCore Runtime hands the runtime session id to the agent code.
RUNTIME_SESSION_ID_HEADER: Final = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
AUTHORIZATION_HEADER: Final = "Authorization"

# Headers the mesh propagates. Runtimes allowlist these, and the Gateway target
# allowlists them (at most 10 per target).
PROPAGATED_HEADERS: Final = (USER_TOKEN_HEADER, SESSION_ID_HEADER)

# AgentCore Runtime rejects session ids shorter than this (characters).
MIN_SESSION_ID_LENGTH: Final = 33
# Maximum length of a runtime session id (characters), from the SessionType
# shape of the bedrock-agentcore API model in botocore 1.44.
MAX_SESSION_ID_LENGTH: Final = 256
# AgentCore Runtime drops a header value larger than this (bytes).
MAX_HEADER_VALUE_BYTES: Final = 4096

# The key under which the Gateway interceptor writes the verified identity into
# the tool arguments. The interceptor first removes any caller-supplied value.
VERIFIED_IDENTITY_KEY: Final = "__mesh_verified_identity"

# OAuth 2.0 resource server and scopes of the user pool. Cognito writes a
# custom scope into the access token as "<resource server identifier>/<scope>".
RESOURCE_SERVER_IDENTIFIER: Final = "agent-mesh"
SCOPE_ACCOUNTS_READ: Final = f"{RESOURCE_SERVER_IDENTIFIER}/accounts.read"
SCOPE_TRANSACTIONS_READ: Final = f"{RESOURCE_SERVER_IDENTIFIER}/transactions.read"
# Every scope the user pool's resource server defines.
RESOURCE_SERVER_SCOPES: Final = (SCOPE_ACCOUNTS_READ, SCOPE_TRANSACTIONS_READ)

# The scope each mesh tool requires, keyed by the tool's own name (without the
# "<target name>___" prefix that the Gateway adds). A tool missing here is denied.
TOOL_REQUIRED_SCOPES: Final = MappingProxyType(
    {
        "get_balance": SCOPE_ACCOUNTS_READ,
        "list_transactions": SCOPE_TRANSACTIONS_READ,
    }
)

# The SigV4 signing name of the AgentCore data plane (signingName of the
# bedrock-agentcore model in botocore 1.44).
# NOTE: published MCP client code signs calls to a Gateway with IAM inbound
# auth with the same name. No botocore model covers the Gateway to confirm it.
AGENTCORE_SIGNING_NAME: Final = "bedrock-agentcore"

# Environment variables read by the verifiers (handlers and agents).
ENV_ISSUER: Final = "MESH_TOKEN_ISSUER"  # https://cognito-idp.<region>.amazonaws.com/<pool id>
ENV_ALLOWED_CLIENT_IDS: Final = "MESH_ALLOWED_CLIENT_IDS"  # comma-separated app client ids
ENV_REQUIRED_SCOPES: Final = "MESH_REQUIRED_SCOPES"  # space-separated scopes
ENV_JWKS_PARAMETER_NAME: Final = "MESH_JWKS_PARAMETER_NAME"  # SSM parameter with the JWKS snapshot
ENV_JWKS_URL: Final = "MESH_JWKS_URL"  # for tests and the local mesh only
ENV_JWKS_REFRESH_COOLDOWN_SECONDS: Final = "MESH_JWKS_REFRESH_COOLDOWN_SECONDS"

# Environment variables of the ledger function.
ENV_LEDGER_TABLE_NAME: Final = "LEDGER_TABLE_NAME"
ENV_LEDGER_READER_ROLE_ARN: Final = "LEDGER_READER_ROLE_ARN"
# KMS HMAC key (HMAC_256, GENERATE_VERIFY_MAC) that authenticates pagination tokens.
ENV_PAGINATION_KEY_ID: Final = "LEDGER_PAGINATION_KEY_ID"

# The session tag that scopes the ledger reader's credentials to one customer.
CUSTOMER_SESSION_TAG: Final = "customer"

# Environment variables of the agents on AgentCore Runtime.
ENV_GATEWAY_URL: Final = "MESH_GATEWAY_URL"  # the mesh Gateway's MCP endpoint, https://.../mcp
ENV_PEER_RUNTIME_ARNS: Final = "MESH_PEER_RUNTIME_ARNS"  # JSON object: agent name -> runtime ARN
ENV_MEMORY_ID: Final = "MESH_MEMORY_ID"
ENV_MODEL_ID: Final = "MESH_MODEL_ID"
ENV_GATEWAY_TARGET_NAME: Final = "MESH_GATEWAY_TARGET_NAME"  # gateway target whose tools the agent calls
ENV_GATEWAY_TIMEOUT_SECONDS: Final = "MESH_GATEWAY_TIMEOUT_SECONDS"  # seconds, per gateway call
ENV_SUPPORT_TOOLS: Final = "MESH_SUPPORT_TOOLS"  # comma-separated tool names; unset means every known tool
ENV_AGENT_HOST: Final = "MESH_AGENT_HOST"  # interface the agent's HTTP server binds to
ENV_AGENT_PORT: Final = "MESH_AGENT_PORT"  # TCP port the agent's HTTP server listens on
# Endpoint override for the AgentCore data plane client; unset on AWS, set by the local mesh.
ENV_AGENTCORE_ENDPOINT_URL: Final = "MESH_AGENTCORE_ENDPOINT_URL"

# Tag key that names the mesh.toml agent on the agent's role and runtime, so
# reviewers and the policy checks can find an agent's resources.
AGENT_TAG_KEY: Final = "agent-mesh:agent"
