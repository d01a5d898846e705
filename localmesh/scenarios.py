"""The demo's scenarios: honest requests that must succeed and hostile ones that must be rejected.

Each scenario sends real HTTP requests through the running `LocalMesh` and
checks the reply and the audit records against its expectation. A check
that fails names the expected and the received value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from interceptor.decision import AUDIT_HOP as INTERCEPTOR_HOP
from ledger.handler import AUDIT_HOP as LEDGER_HOP
from mesh_identity.constants import SCOPE_ACCOUNTS_READ, USER_TOKEN_HEADER
from support_agent.conversation import HOP as SUPPORT_HOP
from transaction_agent.handler import HOP as TRANSACTION_HOP

from .audit_log import AuditEntry
from .dataplane import AUDIT_HOP as RUNTIME_HOP
from .http import RawResponse
from .ledger_data import ALICE, BOB
from .mesh import INTRUDER, LEDGER_TOOL, LocalMesh, replace_header
from .oidc import SigningKey

# Seconds in the past the expired token's exp lies.
EXPIRED_SECONDS_AGO = 120


@dataclass
class Outcome:
    """What a scenario observed, and every check that did not hold."""

    summary: str
    failures: list[str] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """True when every check held."""
        return not self.failures

    def expect(self, condition: bool, message: str) -> None:
        """Record ``message`` as a failure unless ``condition`` holds."""
        if not condition:
            self.failures.append(message)


@dataclass(frozen=True)
class Scenario:
    """A named request and the outcome it must have."""

    name: str
    expectation: str
    run: Callable[[LocalMesh], Outcome]


def run_scenario(mesh: LocalMesh, scenario: Scenario) -> Outcome:
    """Run one scenario and attach the audit records its requests produced."""
    mark = mesh.audit_log.mark()
    started = time.perf_counter()
    try:
        outcome = scenario.run(mesh)
    except Exception as error:  # noqa: BLE001 - a crashed scenario is a failed scenario, reported with the rest
        outcome = Outcome(summary="the scenario raised an exception", failures=[f"{type(error).__name__}: {error}"])
    outcome.seconds = time.perf_counter() - started
    outcome.audit = mesh.audit_log.since(mark)
    return outcome


# -- helpers -----------------------------------------------------------------


def _answer(response: RawResponse) -> str:
    document = response.json() if response.body else None
    return str(document.get("answer", "")) if isinstance(document, dict) else ""


def _error_type(response: RawResponse) -> str | None:
    return response.header("x-amzn-ErrorType")


def _has_record(entries: Sequence[AuditEntry], hop: str, decision: str, reason: str | None = None, **ids: Any) -> bool:
    return any(
        entry.hop == hop
        and entry.decision == decision
        and (reason is None or entry.reason == reason)
        and all(entry.record.get(key) == value for key, value in ids.items())
        for entry in entries
    )


def _check_records(outcome: Outcome, mesh: LocalMesh, mark: int, *expected: tuple[Any, ...]) -> None:
    entries = mesh.audit_log.since(mark)
    for hop, decision, reason, ids in expected:
        outcome.expect(
            _has_record(entries, hop, decision, reason, **ids),
            f"expected an audit record hop={hop} decision={decision} reason={reason} {ids or ''}".rstrip(),
        )


def _check_not_reached(outcome: Outcome, mesh: LocalMesh, mark: int, hops: Sequence[str]) -> None:
    reached = sorted({entry.hop for entry in mesh.audit_log.since(mark)} & set(hops))
    outcome.expect(not reached, f"expected the request to stop before {list(hops)}, but it reached {reached}")


# -- scenarios ---------------------------------------------------------------


def _balance_of(user: str, expected_balance: str, other_balance: str) -> Callable[[LocalMesh], Outcome]:
    customer = ALICE if user == "alice" else BOB

    def run(mesh: LocalMesh) -> Outcome:
        mark = mesh.audit_log.mark()
        response = mesh.ask_support(mesh.user_token(user), "What is my balance?", session_id=mesh.new_session_id(user))
        answer = _answer(response)
        outcome = Outcome(summary=f"HTTP {response.status}: {answer[:160]}")
        outcome.expect(response.status == 200, f"expected HTTP 200, received {response.status}")
        outcome.expect(expected_balance in answer, f"expected the balance {expected_balance} in the answer")
        outcome.expect(other_balance not in answer, f"the answer contains another customer's balance {other_balance}")
        outcome.expect(customer.account_number[-4:] in answer, "expected the customer's masked account number")
        _check_records(
            outcome, mesh, mark,
            (RUNTIME_HOP, "allow", "runtime_invocation_forwarded", {"runtime": "support"}),
            (RUNTIME_HOP, "allow", "runtime_invocation_forwarded", {"runtime": "transaction"}),
            (INTERCEPTOR_HOP, "allow", "token_verified", {"sub": customer.sub}),
            (LEDGER_HOP, "allow", "tool_served", {"sub": customer.sub}),
        )  # fmt: skip
        return outcome

    return run


def _bob_token_with_alice_id(mesh: LocalMesh) -> Outcome:
    # A compromised or buggy Support agent (a legitimate caller) names Alice in
    # the tool arguments while acting for Bob.
    mark = mesh.audit_log.mark()
    response = mesh.invoke_runtime(
        "transaction",
        principal="support",
        payload={"tool": "get_balance", "arguments": {"customer_id": ALICE.sub, "account_owner": ALICE.sub}},
        user_token=mesh.user_token("bob"),
        session_id=mesh.new_session_id("bob"),
    )
    document = response.json() or {}
    result = document.get("result", {}) if isinstance(document, dict) else {}
    outcome = Outcome(summary=f"HTTP {response.status}: result {result}")
    outcome.expect(response.status == 200, f"expected HTTP 200, received {response.status}")
    outcome.expect(
        result.get("balance") == str(BOB.balance),
        f"expected Bob's balance {BOB.balance}, received {result.get('balance')!r}",
    )
    outcome.expect(
        result.get("account_number") == f"****{BOB.account_number[-4:]}", "expected Bob's masked account number"
    )

    # The Transaction agent removes both ids before the Gateway call, so the
    # interceptor, which applies the same rule, finds none left.
    _check_records(
        outcome, mesh, mark,
        (TRANSACTION_HOP, "allow", "tool_result_returned", {"sub": BOB.sub, "removed_identity_arguments": 2}),
        (INTERCEPTOR_HOP, "allow", "token_verified", {"sub": BOB.sub, "removed_identity_arguments": 0}),
        (LEDGER_HOP, "allow", "tool_served", {"sub": BOB.sub}),
    )  # fmt: skip
    return outcome


def _forged_token(mesh: LocalMesh) -> Outcome:
    # Signed with the attacker's own key under the kid of the pool's real key.
    attacker = SigningKey(
        kid=mesh.issuer.current_key.kid, private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    token = mesh.issuer.mint_access_token(ALICE.sub, username="alice", scopes=(SCOPE_ACCOUNTS_READ,), key=attacker)
    return _refused_at_hop_one(mesh, token, "jwt_bad_signature")


def _expired_token(mesh: LocalMesh) -> Outcome:
    now = int(time.time())
    token = mesh.user_token("alice", exp=now - EXPIRED_SECONDS_AGO, iat=now - 3600 - EXPIRED_SECONDS_AGO)
    return _refused_at_hop_one(mesh, token, "jwt_expired")


def _refused_at_hop_one(mesh: LocalMesh, token: str, reason: str) -> Outcome:
    mark = mesh.audit_log.mark()
    response = mesh.ask_support(token, "What is my balance?", session_id=mesh.new_session_id())
    outcome = Outcome(summary=f"HTTP {response.status} {_error_type(response)}")
    outcome.expect(response.status == 401, f"expected HTTP 401, received {response.status}")
    outcome.expect(
        _error_type(response) == "UnauthorizedException",
        f"expected UnauthorizedException, received {_error_type(response)}",
    )
    _check_records(outcome, mesh, mark, (RUNTIME_HOP, "deny", reason, {"runtime": "support"}))
    _check_not_reached(outcome, mesh, mark, [SUPPORT_HOP, TRANSACTION_HOP, INTERCEPTOR_HOP, LEDGER_HOP])
    return outcome


def _role_not_in_mesh_toml(principal: str) -> Callable[[LocalMesh], Outcome]:
    def run(mesh: LocalMesh) -> Outcome:
        mark = mesh.audit_log.mark()
        response = mesh.invoke_runtime(
            "transaction",
            principal=principal,
            payload={"tool": "get_balance", "arguments": {}},
            user_token=mesh.user_token("alice"),
            session_id=mesh.new_session_id(),
        )
        outcome = Outcome(summary=f"HTTP {response.status} {_error_type(response)}")
        outcome.expect(response.status == 403, f"expected HTTP 403, received {response.status}")
        outcome.expect(
            _error_type(response) == "AccessDeniedException",
            f"expected AccessDeniedException, received {_error_type(response)}",
        )
        _check_records(
            outcome, mesh, mark, (RUNTIME_HOP, "deny", "caller_not_a_mesh_agent", {"runtime": "transaction"})
        )
        _check_not_reached(outcome, mesh, mark, [TRANSACTION_HOP, INTERCEPTOR_HOP, LEDGER_HOP])
        return outcome

    return run


def _token_changed_after_signing(mesh: LocalMesh) -> Outcome:
    mark = mesh.audit_log.mark()
    response = mesh.invoke_runtime(
        "transaction",
        principal="support",
        payload={"tool": "get_balance", "arguments": {}},
        user_token=mesh.user_token("bob"),
        session_id=mesh.new_session_id(),
        tamper=replace_header(USER_TOKEN_HEADER, mesh.user_token("alice")),
    )
    outcome = Outcome(summary=f"HTTP {response.status} {_error_type(response)}")
    outcome.expect(response.status == 403, f"expected HTTP 403, received {response.status}")
    outcome.expect(
        _error_type(response) == "InvalidSignatureException",
        f"expected InvalidSignatureException, received {_error_type(response)}",
    )
    _check_records(outcome, mesh, mark, (RUNTIME_HOP, "deny", "sigv4_signature_mismatch", {"runtime": "transaction"}))
    _check_not_reached(outcome, mesh, mark, [TRANSACTION_HOP, INTERCEPTOR_HOP, LEDGER_HOP])
    return outcome


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "Alice asks her balance",
        f"HTTP 200 with Alice's balance {ALICE.balance}",
        _balance_of("alice", str(ALICE.balance), str(BOB.balance)),
    ),
    Scenario(
        "Bob asks his balance",
        f"HTTP 200 with Bob's balance {BOB.balance}",
        _balance_of("bob", str(BOB.balance), str(ALICE.balance)),
    ),
    Scenario(
        "Bob's token with Alice's customer id in the tool arguments (hop 2, signed by the Support role)",
        f"only Bob's data ({BOB.balance}); the Transaction agent drops the caller's customer ids",
        _bob_token_with_alice_id,
    ),
    Scenario(
        "A forged token (attacker's key, real kid)", "rejected at hop 1 by the JWT authorizer (401)", _forged_token
    ),
    Scenario("An expired token", "rejected at hop 1 by the JWT authorizer (401)", _expired_token),
    Scenario(
        "The Transaction agent called by a role mesh.toml does not know (intruder)",
        "rejected at hop 2 by the runtime's policy (403)",
        _role_not_in_mesh_toml(INTRUDER),
    ),
    Scenario(
        "The Transaction agent called by the ledger tool's role",
        "rejected at hop 2 by the runtime's policy (403)",
        _role_not_in_mesh_toml(LEDGER_TOOL),
    ),
    Scenario(
        "The user token changed after the Support agent signed the call",
        "rejected at hop 2: the SigV4 signature no longer matches (403)",
        _token_changed_after_signing,
    ),
)
