"""Fetch of the JWKS document over HTTPS, with a timeout, a size cap and no redirects."""

import http.client
import urllib.error
import urllib.request
from typing import Any, Final

from jwks_snapshot.errors import JwksFetchError

# A Cognito JWKS with two RSA-2048 keys is about 1 KB. 64 KB leaves room for
# rotation and bounds how much a misbehaving endpoint can make the function read.
MAX_JWKS_BYTES: Final = 64 * 1024
DEFAULT_TIMEOUT_SECONDS: Final = 5.0


class _RejectRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect could lead to another host or to plain http, so the configured URL is the only source.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# An empty ProxyHandler ignores proxy environment variables, so requests go straight to the URL.
_OPENER: Final = urllib.request.build_opener(urllib.request.ProxyHandler({}), _RejectRedirects())


def fetch_jwks_document(
    url: str, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS, max_bytes: int = MAX_JWKS_BYTES
) -> bytes:
    """Return the body of a GET on ``url``, raising JwksFetchError unless it is a 200 of at most ``max_bytes``.

    The caller validates the URL's scheme and host before calling.
    """
    request = urllib.request.Request(url, headers={"Accept": "application/json"}, method="GET")
    try:
        with _OPENER.open(request, timeout=timeout_seconds) as response:
            if response.status != 200:
                raise JwksFetchError(f"Fetching the JWKS from {url} failed: HTTP {response.status}, expected 200.")

            declared_length = response.headers.get("Content-Length")
            if declared_length is not None and declared_length.isdigit() and int(declared_length) > max_bytes:
                raise JwksFetchError(_too_large(url, max_bytes))

            body = response.read(max_bytes + 1)
    except urllib.error.HTTPError as error:
        hint = " Redirects are not followed, so set the final URL." if 300 <= error.code < 400 else ""
        raise JwksFetchError(
            f"Fetching the JWKS from {url} failed: HTTP {error.code}, expected 200.{hint}"
        ) from error
    except urllib.error.URLError as error:
        raise JwksFetchError(f"Fetching the JWKS from {url} failed: {error.reason}.") from error
    except TimeoutError as error:
        raise JwksFetchError(f"Fetching the JWKS from {url} timed out after {timeout_seconds} seconds.") from error
    except (OSError, http.client.HTTPException) as error:
        raise JwksFetchError(f"Fetching the JWKS from {url} failed: {type(error).__name__}: {error}.") from error

    if len(body) > max_bytes:
        raise JwksFetchError(_too_large(url, max_bytes))
    return body


def _too_large(url: str, max_bytes: int) -> str:
    return f"Fetching the JWKS from {url} failed: the response is larger than {max_bytes} bytes."
