"""Errors of the JWKS snapshot function. Messages name the URL or parameter, never key material."""


class SnapshotError(Exception):
    """Base class of every error the snapshot function raises."""


class ConfigurationError(SnapshotError):
    """An environment variable is missing or invalid."""


class JwksFetchError(SnapshotError):
    """The JWKS URL could not be read: connection, timeout, HTTP status, redirect or size."""


class InvalidJwksError(SnapshotError):
    """The fetched document is not a JWKS of RSA public signing keys."""


class ParameterStoreError(SnapshotError):
    """Reading, writing or deleting the SSM parameter failed."""


class UnsupportedEventError(SnapshotError):
    """The function was invoked by something other than the custom resource or the schedule."""
