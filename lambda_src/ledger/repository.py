"""Reads of the ledger table, each a ``Query`` on one customer's partition.

The repository issues only ``Query`` calls whose key condition fixes the
partition key to the verified ``sub`` through ``ExpressionAttributeValues``. It
never scans, never batch-reads and never writes. Every returned item is checked
to belong to that ``sub`` before it leaves this module.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from ledger import schema
from ledger.errors import IsolationViolationError, LedgerUnavailableError
from ledger.money import is_currency_code

# Maximum Query calls for one page. A sparse min_amount filter may need several
# calls to fill a page. Past this bound the page is returned short with a
# next_token, so one request cannot read the whole partition.
MAX_QUERY_CALLS_PER_PAGE: Final = 10

_NAMES: Final = {
    "#pk": schema.PARTITION_KEY,
    "#sk": schema.SORT_KEY,
    "#amount": schema.ATTRIBUTE_AMOUNT,
    "#currency": schema.ATTRIBUTE_CURRENCY,
}
_BALANCE_NAMES: Final = {
    **_NAMES,
    "#as_of": schema.ATTRIBUTE_AS_OF,
    "#account_number": schema.ATTRIBUTE_ACCOUNT_NUMBER,
}
_TRANSACTION_NAMES: Final = {
    **_NAMES,
    "#booked_at": schema.ATTRIBUTE_BOOKED_AT,
    "#description": schema.ATTRIBUTE_DESCRIPTION,
}
_BALANCE_PROJECTION: Final = "#pk, #sk, #amount, #currency, #as_of, #account_number"
_TRANSACTION_PROJECTION: Final = "#pk, #sk, #amount, #currency, #booked_at, #description"

_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class Balance:
    """The balance item of one customer."""

    amount: Decimal
    currency: str
    as_of: str
    account_number_last4: str


@dataclass(frozen=True)
class Transaction:
    """One transaction item of one customer."""

    sort_key: str
    transaction_id: str
    booked_at: str
    amount: Decimal
    currency: str
    description: str


@dataclass(frozen=True)
class TransactionPage:
    """Transactions newest first, and the sort key to resume after when more may follow."""

    transactions: list[Transaction]
    last_sort_key: str | None


@dataclass(frozen=True)
class SortKeyRange:
    """An inclusive range of transaction sort keys."""

    lower: str = schema.TRANSACTION_SORT_KEY_PREFIX
    upper: str = schema.TRANSACTION_SORT_KEY_UPPER_BOUND


class LedgerRepository:
    """Query one customer's partition with a DynamoDB client scoped to that customer."""

    def __init__(self, table_name: str, client_for_customer: Callable[[str], Any]) -> None:
        self._table_name = table_name
        self._client_for_customer = client_for_customer

    def get_balance(self, sub: str) -> Balance | None:
        """Return the customer's balance item, or None if the customer has none."""
        client = self._client_for_customer(sub)
        response = _query(
            client,
            TableName=self._table_name,
            KeyConditionExpression="#pk = :pk AND #sk = :sk",
            ExpressionAttributeNames=_BALANCE_NAMES,
            ExpressionAttributeValues={
                ":pk": {"S": sub},
                ":sk": {"S": schema.BALANCE_SORT_KEY},
            },
            ProjectionExpression=_BALANCE_PROJECTION,
            ConsistentRead=True,
            Limit=1,
        )

        items = [_deserialize(item, sub) for item in response.get("Items", [])]
        if not items:
            return None
        return _to_balance(items[0])

    def list_transactions(
        self,
        sub: str,
        *,
        key_range: SortKeyRange,
        min_amount: Decimal | None,
        limit: int,
        start_after: str | None,
    ) -> TransactionPage:
        """Return up to ``limit`` transactions in ``key_range``, newest first.

        ``min_amount`` keeps transactions whose absolute amount is at least that
        value, so it matches debits (negative) and credits alike.
        """
        client = self._client_for_customer(sub)
        parameters: dict[str, Any] = {
            "TableName": self._table_name,
            "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :lower AND :upper",
            "ExpressionAttributeNames": dict(_TRANSACTION_NAMES),
            "ExpressionAttributeValues": {
                ":pk": {"S": sub},
                ":lower": {"S": key_range.lower},
                ":upper": {"S": key_range.upper},
            },
            "ProjectionExpression": _TRANSACTION_PROJECTION,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if min_amount is not None and min_amount > 0:
            parameters["FilterExpression"] = "#amount >= :min_amount OR #amount <= :negative_min_amount"
            parameters["ExpressionAttributeValues"][":min_amount"] = {"N": str(min_amount)}
            parameters["ExpressionAttributeValues"][":negative_min_amount"] = {"N": str(-min_amount)}
        if start_after is not None:
            parameters["ExclusiveStartKey"] = _key(sub, start_after)

        transactions: list[Transaction] = []
        last_evaluated_key: Mapping[str, Any] | None = None
        for _ in range(MAX_QUERY_CALLS_PER_PAGE):
            response = _query(client, **parameters)
            transactions.extend(_to_transaction(_deserialize(item, sub)) for item in response.get("Items", []))
            last_evaluated_key = response.get("LastEvaluatedKey")
            if len(transactions) >= limit or last_evaluated_key is None:
                break
            parameters["ExclusiveStartKey"] = last_evaluated_key

        return _page(sub, transactions, limit, last_evaluated_key)


def _page(
    sub: str, transactions: list[Transaction], limit: int, last_evaluated_key: Mapping[str, Any] | None
) -> TransactionPage:
    if len(transactions) > limit:
        page_items = transactions[:limit]
        return TransactionPage(transactions=page_items, last_sort_key=page_items[-1].sort_key)
    if last_evaluated_key is None:
        return TransactionPage(transactions=transactions, last_sort_key=None)

    # The key of the last evaluated item may lie after the last returned one
    # when the filter dropped items, so resume from DynamoDB's key.
    resume = _deserialize(last_evaluated_key, sub)
    sort_key = resume.get(schema.SORT_KEY)
    if not isinstance(sort_key, str):
        raise LedgerUnavailableError("DynamoDB returned a LastEvaluatedKey without a string sort key")
    return TransactionPage(transactions=transactions, last_sort_key=sort_key)


def _key(sub: str, sort_key: str) -> dict[str, Any]:
    return {schema.PARTITION_KEY: {"S": sub}, schema.SORT_KEY: {"S": sort_key}}


def _query(client: Any, **parameters: Any) -> Mapping[str, Any]:
    try:
        return client.query(**parameters)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        # AccessDeniedException here means IAM's LeadingKeys condition or the
        # key policy refused the customer-scoped session.
        raise LedgerUnavailableError(f"DynamoDB Query failed: {code}") from error
    except BotoCoreError as error:
        raise LedgerUnavailableError(f"DynamoDB Query failed: {type(error).__name__}") from error


def _deserialize(item: Mapping[str, Any], sub: str) -> dict[str, Any]:
    plain = {name: _deserializer.deserialize(value) for name, value in item.items()}
    if plain.get(schema.PARTITION_KEY) != sub:
        raise IsolationViolationError("DynamoDB returned an item outside the verified customer's partition")
    return plain


def _to_balance(item: Mapping[str, Any]) -> Balance:
    amount = _require(item, schema.ATTRIBUTE_AMOUNT, Decimal)
    currency = _require_currency(item)
    as_of = _require(item, schema.ATTRIBUTE_AS_OF, str)
    account_number = _require(item, schema.ATTRIBUTE_ACCOUNT_NUMBER, str)
    return Balance(amount=amount, currency=currency, as_of=as_of, account_number_last4=account_number[-4:])


def _to_transaction(item: Mapping[str, Any]) -> Transaction:
    sort_key = _require(item, schema.SORT_KEY, str)
    match = schema.TRANSACTION_SORT_KEY_PATTERN.fullmatch(sort_key)
    if match is None:
        raise LedgerUnavailableError("a transaction item has a sort key outside the TXN#<booked_at>#<id> form")

    return Transaction(
        sort_key=sort_key,
        transaction_id=match["local_id"],
        booked_at=_require(item, schema.ATTRIBUTE_BOOKED_AT, str),
        amount=_require(item, schema.ATTRIBUTE_AMOUNT, Decimal),
        currency=_require_currency(item),
        description=_require(item, schema.ATTRIBUTE_DESCRIPTION, str),
    )


def _require(item: Mapping[str, Any], attribute: str, kind: type) -> Any:
    value = item.get(attribute)
    if not isinstance(value, kind):
        # Only the attribute name is logged: values may be account numbers or descriptions.
        raise LedgerUnavailableError(f"a ledger item has a missing or mistyped attribute {attribute}")
    return value


def _require_currency(item: Mapping[str, Any]) -> str:
    currency = item.get(schema.ATTRIBUTE_CURRENCY)
    if not is_currency_code(currency):
        raise LedgerUnavailableError("a ledger item has an invalid currency attribute")
    return currency
