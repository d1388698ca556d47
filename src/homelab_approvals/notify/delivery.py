"""One POST with the standard library: 2xx is delivered, anything else is not."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request

from homelab_approvals.notify.formats import Message

TIMEOUT_S = 10.0
#: At most this much of a refusal's body is read: a target is not trusted either.
_BODY_LIMIT = 4096


class DeliveryFailed(Exception):
    """The target did not acknowledge the message; it will be sent again."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect would turn the POST into a GET elsewhere: report it instead.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def post(message: Message, timeout: float = TIMEOUT_S) -> None:
    request = urllib.request.Request(
        message.url, data=message.body, headers=message.headers, method="POST"
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status = response.status
            response.read(_BODY_LIMIT)
    except urllib.error.HTTPError as error:
        error.close()
        raise DeliveryFailed(f"HTTP {error.code}") from None
    except urllib.error.URLError as error:
        raise DeliveryFailed(str(error.reason)) from None
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise DeliveryFailed(type(error).__name__ + (f": {error}" if str(error) else "")) from None
    if not 200 <= status < 300:
        raise DeliveryFailed(f"HTTP {status}")
