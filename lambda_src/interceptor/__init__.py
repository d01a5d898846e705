"""The mesh Gateway's REQUEST interceptor: verify the user, then pin the tool call to that user."""
