# SPDX-License-Identifier: Apache-2.0
"""Transaction agent: an IAM-only AgentCore Runtime app that reads ledger data for one user.

The agent trusts no caller. Each request must carry the end user's Cognito
access token in the propagated user-token header, and the agent verifies that
token itself before it calls the mesh Gateway on the user's behalf.
"""
