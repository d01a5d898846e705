"""The two tools of the ledger target: ``get_balance`` and ``list_transactions``.

Each tool requires the OAuth scope that ``TOOL_REQUIRED_SCOPES`` names for it,
the same table the interceptor checks. It reads only the verified customer's
partition and returns a JSON-ready dict with amounts as strings.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from mesh_identity.constants import TOOL_REQUIRED_SCOPES

from ledger import schema
from ledger.arguments import (
    GET_BALANCE_ARGUMENTS,
    LIST_TRANSACTIONS_ARGUMENTS,
    TransactionQuery,
    ignored_argument_names,
    parse_transaction_query,
)
from ledger.errors import AccessDeniedError, AccountNotFoundError, UnknownToolError
from ledger.identity import VerifiedIdentity
from ledger.money import format_amount
from ledger.pagination import PaginationTokenCodec
from ledger.repository import Balance, LedgerRepository, SortKeyRange, Transaction


@dataclass(frozen=True)
class ToolResult:
    """The response body of a tool call, and identifiers for the audit record."""

    body: dict[str, Any]
    audit_fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Tool:
    required_scope: str
    accepted_arguments: frozenset[str]
    run: Callable[[VerifiedIdentity, Mapping[str, Any]], ToolResult]


class LedgerService:
    """Run a ledger tool for a verified customer."""

    def __init__(self, repository: LedgerRepository, pagination: PaginationTokenCodec) -> None:
        self._repository = repository
        self._pagination = pagination
        self._tools = {
            "get_balance": _Tool(
                TOOL_REQUIRED_SCOPES["get_balance"], GET_BALANCE_ARGUMENTS, self._get_balance
            ),
            "list_transactions": _Tool(
                TOOL_REQUIRED_SCOPES["list_transactions"], LIST_TRANSACTIONS_ARGUMENTS, self._list_transactions
            ),
        }

    @property
    def tool_names(self) -> frozenset[str]:
        """Names of the tools this service implements."""
        return frozenset(self._tools)

    def call(self, tool_name: str, identity: VerifiedIdentity, arguments: Mapping[str, Any]) -> ToolResult:
        """Check the tool's scope, then run it.

        Raises UnknownToolError, AccessDeniedError when the identity lacks the
        tool's scope, or another LedgerError from the tool.
        """
        tool = self._tools.get(tool_name)
        if tool is None:
            raise UnknownToolError(f"unknown tool {tool_name[:64]!r}")
        if tool.required_scope not in identity.scopes:
            detail = f"scope {tool.required_scope} missing for tool {tool_name}"
            raise AccessDeniedError(detail, reason="scope_missing")

        result = tool.run(identity, arguments)
        ignored = ignored_argument_names(arguments, tool.accepted_arguments)
        if ignored:
            result = replace(result, audit_fields={**result.audit_fields, "ignored_arguments": ignored})
        return result

    def _get_balance(self, identity: VerifiedIdentity, arguments: Mapping[str, Any]) -> ToolResult:
        balance = self._repository.get_balance(identity.sub)
        if balance is None:
            raise AccountNotFoundError("no balance item for the verified customer")
        return ToolResult(body=_balance_body(balance), audit_fields={"items_returned": 1})

    def _list_transactions(self, identity: VerifiedIdentity, arguments: Mapping[str, Any]) -> ToolResult:
        query = parse_transaction_query(arguments)
        fingerprint = query.filter_fingerprint()
        start_after = None
        if query.next_token is not None:
            start_after = self._pagination.open(query.next_token, sub=identity.sub, filter_fingerprint=fingerprint)

        page = self._repository.list_transactions(
            identity.sub,
            key_range=_sort_key_range(query),
            min_amount=query.min_amount,
            limit=query.limit,
            start_after=start_after,
        )

        next_token = None
        if page.last_sort_key is not None:
            next_token = self._pagination.issue(
                sub=identity.sub, last_sort_key=page.last_sort_key, filter_fingerprint=fingerprint
            )
        body = {
            "transactions": [_transaction_body(transaction) for transaction in page.transactions],
            "next_token": next_token,
        }
        return ToolResult(
            body=body,
            audit_fields={"items_returned": len(page.transactions), "more_available": next_token is not None},
        )


def _sort_key_range(query: TransactionQuery) -> SortKeyRange:
    lower = schema.TRANSACTION_SORT_KEY_PREFIX
    upper = schema.TRANSACTION_SORT_KEY_UPPER_BOUND
    if query.from_date is not None:
        lower = schema.sort_key_lower_bound(query.from_date)
    # date.max has no next day, and the open upper bound already includes it.
    if query.to_date is not None and query.to_date < date.max:
        upper = schema.sort_key_upper_bound(query.to_date + timedelta(days=1))
    return SortKeyRange(lower=lower, upper=upper)


def _balance_body(balance: Balance) -> dict[str, Any]:
    return {
        "account_number": f"****{balance.account_number_last4}",
        "balance": format_amount(balance.amount, balance.currency),
        "currency": balance.currency,
        "as_of": balance.as_of,
    }


def _transaction_body(transaction: Transaction) -> dict[str, Any]:
    return {
        "transaction_id": transaction.transaction_id,
        "booked_at": transaction.booked_at,
        "amount": format_amount(transaction.amount, transaction.currency),
        "currency": transaction.currency,
        "description": transaction.description,
    }
