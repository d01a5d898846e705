"""The demo ledger (Alice and Bob), for tests.

It lives in `localmesh.ledger_data`, because the local mesh seeds it too; this
module keeps the tests' import path.
"""

from localmesh.ledger_data import (
    ALICE,
    ALICE_SUB,
    BALANCE_AS_OF,
    BOB,
    BOB_SUB,
    DEMO_CUSTOMERS,
    DemoCustomer,
    DemoTransaction,
    balance_item,
    create_demo_ledger,
    create_ledger_table,
    seed_demo_ledger,
    transaction_item,
)

__all__ = [
    "ALICE",
    "ALICE_SUB",
    "BALANCE_AS_OF",
    "BOB",
    "BOB_SUB",
    "DEMO_CUSTOMERS",
    "DemoCustomer",
    "DemoTransaction",
    "balance_item",
    "create_demo_ledger",
    "create_ledger_table",
    "seed_demo_ledger",
    "transaction_item",
]
