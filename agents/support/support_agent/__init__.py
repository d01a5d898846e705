# SPDX-License-Identifier: Apache-2.0
"""Support agent: the user-facing AgentCore Runtime app of the mesh.

AgentCore's Cognito JWT authorizer admits the request, and the agent verifies
the token again. It keeps the conversation in AgentCore Memory and lets a model
choose among the mesh tools that the user's scopes allow. It calls peer agents
with SigV4 and puts the user's token in a signed header.
"""
