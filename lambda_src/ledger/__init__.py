"""The ledger tool: an AgentCore Gateway Lambda target that reads one customer's ledger.

The tools ``get_balance`` and ``list_transactions`` return only rows whose
partition key is the user ``sub`` that the Gateway REQUEST interceptor verified.
The read runs under STS credentials tagged with that ``sub``, so the reader
role's ``dynamodb:LeadingKeys`` condition rejects a read of any other partition.
"""
