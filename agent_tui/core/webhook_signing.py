"""Webhook signatures in the Standard Webhooks format (https://www.standardwebhooks.com).

Each delivery carries ``webhook-id`` (the same across retries), ``webhook-timestamp`` (Unix seconds of
this attempt) and, when the webhook has a secret, ``webhook-signature: v1,<base64>``: an HMAC-SHA256,
keyed with the secret, over ``"{id}.{timestamp}.{body}"``. A receiver recomputes it over the raw body
it got, compares in constant time, and refuses a timestamp far from its clock (a replay). The secret is
``whsec_`` followed by base64 (the key is the decoded bytes), so the reference libraries of the
standard verify these deliveries as they are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

PREFIX = "whsec_"
MIN_KEY_BYTES = 16
TOLERANCE = 300.0
"""Seconds a receiver accepts between a delivery's timestamp and its own clock."""


class SignatureError(ValueError):
    """A secret that cannot be used, or a delivery whose signature does not verify."""


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (the prefix is optional)."""
    encoded = secret.strip().removeprefix(PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(
            "secret: must be whsec_ followed by base64, for example the output of "
            "`python -c \"import base64, secrets; print('whsec_' + "
            'base64.b64encode(secrets.token_bytes(32)).decode())"`'
        ) from None
    if len(key) < MIN_KEY_BYTES:
        raise SignatureError(f"secret: decodes to {len(key)} bytes; use at least {MIN_KEY_BYTES}")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one delivery."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(
    secret: str | None, msg_id: str, body: bytes, now: float | None = None
) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt; the signature only with a secret."""
    timestamp = int(time.time() if now is None else now)
    out = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
    if secret:
        out["webhook-signature"] = sign(secret, msg_id, timestamp, body)
    return out


def verify(
    secret: str,
    received: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: float = TOLERANCE,
) -> None:
    """Check a delivery as a receiver would; raise :class:`SignatureError` saying why it fails.

    ``received`` maps header names (any case) to values. The signature header may hold several
    space-separated ``v1,<base64>`` signatures (during a secret rotation); one match is enough.
    """
    lower = {k.lower(): v for k, v in received.items()}
    try:
        msg_id, stamp, signatures = (
            lower["webhook-id"],
            lower["webhook-timestamp"],
            lower["webhook-signature"],
        )
    except KeyError as exc:
        raise SignatureError(f"missing header {exc.args[0]}") from None
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureError(f"webhook-timestamp {stamp!r} is not a number") from None
    clock = time.time() if now is None else now
    if abs(clock - timestamp) > tolerance:
        raise SignatureError(f"webhook-timestamp is {clock - timestamp:.0f} s away from now")
    expected = sign(secret, msg_id, timestamp, body).encode()
    for candidate in signatures.split():
        if hmac.compare_digest(candidate.encode(), expected):
            return
    raise SignatureError("no signature matches the body")
