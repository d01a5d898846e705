"""Tool definitions of the ledger target, in the Gateway's inline tool schema form.

The infrastructure code passes ``TOOL_DEFINITIONS`` as the target's inline
tool schema. The input schemas describe the same rules that ``arguments.py``
enforces. The verified identity is not part of any schema: the interceptor
adds it, and the model never supplies it.
"""

from typing import Any, Final

from ledger.arguments import MAX_PAGE_SIZE

TOOL_DEFINITIONS: Final[list[dict[str, Any]]] = [
    {
        "name": "get_balance",
        "description": (
            "Return the signed-in customer's current account balance, its currency, "
            "the time it was computed and the last 4 digits of the account number."
        ),
        "inputSchema": {"type": "object", "properties": {}, "required": []},
    },
    {
        "name": "list_transactions",
        "description": (
            "List the signed-in customer's transactions, newest first. Amounts are decimal "
            "strings, negative for debits. Pass next_token from a previous response to get "
            "the next page with the same filters."
        ),
        "inputSchema": {
            "type": "object",
            "properties": {
                "limit": {
                    "type": "integer",
                    "description": f"Maximum number of transactions to return, 1 to {MAX_PAGE_SIZE}. Default 25.",
                },
                "from_date": {
                    "type": "string",
                    "description": "Earliest booking date, inclusive, as YYYY-MM-DD (UTC).",
                },
                "to_date": {
                    "type": "string",
                    "description": "Latest booking date, inclusive, as YYYY-MM-DD (UTC). Not before from_date.",
                },
                "min_amount": {
                    "type": "string",
                    "description": (
                        'Minimum absolute amount as a decimal string such as "100.00"; '
                        "matches debits and credits."
                    ),
                },
                "next_token": {
                    "type": "string",
                    "description": "The next_token of the previous response, to continue the listing.",
                },
            },
            "required": [],
        },
    },
]
