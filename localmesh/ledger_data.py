"""Demo ledger for tests and the local mesh: the table with the ledger's key schema and two customers.

Alice and Bob each have a balance item and a few transactions. Their ``sub``
values are fixed UUIDs, so tokens minted by a local issuer can name them.
Works against moto and against any DynamoDB-compatible endpoint.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from boto3.dynamodb.types import TypeSerializer

from ledger import schema

ALICE_SUB: Final = "3f1c2b9a-6d4e-4a8b-9c71-0e5f2d8a4b13"
BOB_SUB: Final = "8a7d6c5b-4e3f-4210-9b8a-7c6d5e4f3a21"


@dataclass(frozen=True)
class DemoTransaction:
    """A transaction of the demo ledger."""

    local_id: str
    booked_at: datetime
    amount: Decimal
    description: str
    currency: str = "USD"

    @property
    def sort_key(self) -> str:
        """The transaction's sort key in the ledger table."""
        return schema.transaction_sort_key(self.booked_at, self.local_id)


@dataclass(frozen=True)
class DemoCustomer:
    """A customer of the demo ledger with a balance item and transactions."""

    sub: str
    balance: Decimal
    currency: str
    account_number: str
    transactions: tuple[DemoTransaction, ...]


def _at(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


BALANCE_AS_OF: Final = _at(2025, 3, 31, 23, 59)

ALICE: Final = DemoCustomer(
    sub=ALICE_SUB,
    balance=Decimal("5000.00"),
    currency="USD",
    account_number="000123456789",
    transactions=(
        DemoTransaction("a-0001", _at(2025, 1, 31), Decimal("3200.00"), "Salary January"),
        DemoTransaction("a-0002", _at(2025, 2, 1, 8), Decimal("-1500.00"), "Rent February"),
        DemoTransaction("a-0003", _at(2025, 2, 14, 18, 30), Decimal("-82.45"), "Groceries"),
        DemoTransaction("a-0004", _at(2025, 3, 3, 7, 45), Decimal("-4.50"), "Coffee"),
        DemoTransaction("a-0005", _at(2025, 3, 15, 12), Decimal("19.99"), "Refund online order"),
    ),
)

BOB: Final = DemoCustomer(
    sub=BOB_SUB,
    balance=Decimal("1250.50"),
    currency="USD",
    account_number="000987654321",
    transactions=(
        DemoTransaction("b-0001", _at(2025, 1, 15), Decimal("-250.00"), "Electricity bill"),
        DemoTransaction("b-0002", _at(2025, 2, 28, 17), Decimal("2100.00"), "Salary February"),
        DemoTransaction("b-0003", _at(2025, 3, 10, 20, 15), Decimal("-63.20"), "Restaurant"),
    ),
)

DEMO_CUSTOMERS: Final = (ALICE, BOB)

_serializer = TypeSerializer()


def create_ledger_table(dynamodb_client: Any, table_name: str) -> None:
    """Create the ledger table with the deployed key schema and wait until it is active."""
    dynamodb_client.create_table(
        TableName=table_name,
        KeySchema=[
            {"AttributeName": schema.PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": schema.SORT_KEY, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": schema.PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": schema.SORT_KEY, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb_client.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )


def balance_item(customer: DemoCustomer) -> dict[str, Any]:
    """Return the balance item of a demo customer in DynamoDB JSON."""
    return _to_dynamodb(
        {
            schema.PARTITION_KEY: customer.sub,
            schema.SORT_KEY: schema.BALANCE_SORT_KEY,
            schema.ATTRIBUTE_AMOUNT: customer.balance,
            schema.ATTRIBUTE_CURRENCY: customer.currency,
            schema.ATTRIBUTE_AS_OF: schema.format_timestamp(BALANCE_AS_OF),
            schema.ATTRIBUTE_ACCOUNT_NUMBER: customer.account_number,
        }
    )


def transaction_item(customer: DemoCustomer, transaction: DemoTransaction) -> dict[str, Any]:
    """Return a transaction item of a demo customer in DynamoDB JSON."""
    return _to_dynamodb(
        {
            schema.PARTITION_KEY: customer.sub,
            schema.SORT_KEY: transaction.sort_key,
            schema.ATTRIBUTE_BOOKED_AT: schema.format_timestamp(transaction.booked_at),
            schema.ATTRIBUTE_AMOUNT: transaction.amount,
            schema.ATTRIBUTE_CURRENCY: transaction.currency,
            schema.ATTRIBUTE_DESCRIPTION: transaction.description,
        }
    )


def seed_demo_ledger(
    dynamodb_client: Any, table_name: str, customers: tuple[DemoCustomer, ...] = DEMO_CUSTOMERS
) -> None:
    """Write the balance item and the transactions of each customer."""
    for customer in customers:
        dynamodb_client.put_item(TableName=table_name, Item=balance_item(customer))
        for transaction in customer.transactions:
            dynamodb_client.put_item(TableName=table_name, Item=transaction_item(customer, transaction))


def create_demo_ledger(dynamodb_client: Any, table_name: str) -> None:
    """Create the ledger table and seed it with Alice's and Bob's items."""
    create_ledger_table(dynamodb_client, table_name)
    seed_demo_ledger(dynamodb_client, table_name)


def _to_dynamodb(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}
