"""Fixtures of the benchmarks: the local issuer."""

from tests.support.fixtures import oidc_issuer  # noqa: F401 - imported so pytest finds the fixture
