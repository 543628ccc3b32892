"""Security primitives: password hashing and policy, signed tokens, CSRF tokens, the client address.

Hashing is CPU-bound and runs in a worker thread behind a small limiter, never on the event loop.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import itertools
import os
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import anyio
import bcrypt
import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from leadflow.platform.settings import IPNetwork

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128
JWT_ALGORITHM = "HS256"

# Argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): about 35 ms of one core per hash.
ARGON2_TIME_COST, ARGON2_MEMORY_KIB, ARGON2_LANES = 2, 19456, 1
# Hashes run in worker threads, at most one fewer than the cores, so that the event loop always keeps a core to answer
# other requests while sign-ins queue.
_hash_limiter: anyio.CapacityLimiter | None = None


def _limiter() -> anyio.CapacityLimiter:
    global _hash_limiter
    if _hash_limiter is None:
        _hash_limiter = anyio.CapacityLimiter(max(1, (os.cpu_count() or 2) - 1))
    return _hash_limiter


class PasswordHasher:
    """argon2id for new hashes; bcrypt hashes from older deployments verify and are upgraded."""

    def __init__(self, cheap: bool = False) -> None:
        argon = (
            Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)
            if cheap
            else Argon2Hasher(time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_LANES)
        )
        self._hash = PasswordHash((argon,))
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hash.hash, password, limiter=_limiter())

    async def verify(self, password: str, hashed: str | None) -> tuple[bool, str | None]:
        """(valid, new hash to store or None). An absent hash still costs one verification (equal timing)."""
        if hashed is None:
            if self._dummy is None:
                self._dummy = await self.hash(secrets.token_urlsafe(16))
            await anyio.to_thread.run_sync(self._hash.verify, password, self._dummy, limiter=_limiter())
            return False, None
        if hashed.startswith(("$2a$", "$2b$", "$2y$")):
            return await anyio.to_thread.run_sync(self._verify_bcrypt, password, hashed, limiter=_limiter())
        try:
            return await anyio.to_thread.run_sync(self._hash.verify_and_update, password, hashed, limiter=_limiter())
        except Exception:  # an unreadable stored hash is a failed login, not a crash
            return False, None

    def _verify_bcrypt(self, password: str, hashed: str) -> tuple[bool, str | None]:
        """Hashes from older deployments. bcrypt only ever read the first 72 bytes (the old system truncated long
        passwords silently), so the same bytes are compared here; a match is re-hashed with argon2id in full."""
        try:
            ok = bcrypt.checkpw(password.encode()[:72], hashed.encode())
        except ValueError:
            return False, None
        return (True, self._hash.hash(password)) if ok else (False, None)


@lru_cache
def _common_passwords() -> frozenset[str]:
    text = resources.files("leadflow.platform").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def _is_run(text: str) -> bool:
    """A single repeated character or one sequential run, such as ``aaaaaaaaaa``, ``1234567890`` or ``zyxwvu...``."""
    if len(set(text)) == 1:
        return True
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(text)}
    if len(steps) == 1 and steps <= {1, -1}:
        return True
    digits = "01234567890123456789"
    return text.isdigit() and (text in digits or text in digits[::-1])


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None when it is acceptable."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"Use at least {PASSWORD_MIN_LENGTH} characters."
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"Use at most {PASSWORD_MAX_LENGTH} characters."
    if "\x00" in password:
        return "The password contains a NUL character."
    if password.lower() in _common_passwords() or _is_run(password.lower()):
        return "This password is too common; choose another."
    return None


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    session_id: str
    token_version: int


VERIFIED_TOKENS = 10_000  # access tokens whose checked claims a process keeps (Signer._verified)


class TokenError(Exception):
    pass


class Signer:
    """Everything derived from the secret key: access tokens, refresh-token MACs, CSRF tokens."""

    def __init__(self, secret_key: str, access_ttl_s: int) -> None:
        self._key = secret_key.encode()
        self.access_ttl_s = access_ttl_s
        # Access tokens whose signature this process has checked, by their exact text: a client sends the same token
        # for minutes, and the rate limit and the principal both read it. Expiry is checked on every use.
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def _mac(self, purpose: str, *parts: str) -> str:
        message = ":".join((purpose, *parts)).encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    # Access tokens -----------------------------------------------------------------------------------------------
    def access_token(
        self, user_id: int, session_id: str, token_version: int, now: dt.datetime, *, rate_exempt: bool = False
    ) -> str:
        claims: dict[str, Any] = {
            "sub": str(user_id),
            "sid": session_id,
            "tv": token_version,
            "typ": "access",
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + self.access_ttl_s,
            "jti": uuid.uuid4().hex,
        }
        if rate_exempt:
            claims["rlx"] = 1
        return jwt.encode(claims, self._key, algorithm=JWT_ALGORITHM)

    def _verified_claims(self, token: str) -> dict[str, Any]:
        """The claims of a validly signed, unexpired token (raises ``jwt.PyJWTError`` otherwise)."""
        claims = self._verified.get(token)
        if claims is None:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[JWT_ALGORITHM],
                options={"require": ["exp", "iat", "sub", "sid", "tv", "typ"]},
            )
            self._verified[token] = claims
            while len(self._verified) > VERIFIED_TOKENS:
                self._verified.popitem(last=False)
        elif claims["exp"] <= time.time():
            del self._verified[token]
            raise jwt.ExpiredSignatureError("Signature has expired")
        return claims

    def read_access_token(self, token: str) -> AccessClaims:
        try:
            claims = self._verified_claims(token)
            if claims["typ"] != "access":
                raise TokenError("not an access token")
            return AccessClaims(
                user_id=int(claims["sub"]),
                session_id=str(claims["sid"]),
                token_version=int(claims["tv"]),
            )
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
            raise TokenError(str(exc)) from exc

    def peek_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a validly signed, unexpired access token, without touching the database (rate limiting)."""
        try:
            claims = self._verified_claims(token)
        except (jwt.PyJWTError, TypeError):
            return None
        return claims if claims.get("typ") == "access" and "sub" in claims else None

    # Refresh tokens ----------------------------------------------------------------------------------------------
    def refresh_token(self, session_id: str, generation: int, nonce: str) -> str:
        return f"{session_id}.{generation}.{self._mac('refresh', session_id, str(generation), nonce)}"

    @staticmethod
    def parse_refresh_token(token: str) -> tuple[str, int, str]:
        try:
            session_id, generation, mac = token.split(".")
            uuid.UUID(session_id)
            return session_id, int(generation), mac
        except (ValueError, AttributeError) as exc:
            raise TokenError("malformed refresh token") from exc

    def refresh_token_is_genuine(self, token: str, nonce: str) -> bool:
        session_id, generation, mac = self.parse_refresh_token(token)
        return hmac.compare_digest(mac, self._mac("refresh", session_id, str(generation), nonce))

    # CSRF ----------------------------------------------------------------------------------------------------------
    def csrf_token(self, session_id: str) -> str:
        nonce = secrets.token_urlsafe(16)
        return f"{nonce}.{self._mac('csrf', session_id, nonce)}"

    def csrf_valid(self, token: str, session_id: str) -> bool:
        nonce, _, mac = token.partition(".")
        if not nonce or not mac:
            return False
        return hmac.compare_digest(mac, self._mac("csrf", session_id, nonce))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def client_ip(peer: str | None, forwarded_for: str | None, trusted: list[IPNetwork]) -> str:
    """The client address: the socket peer, unless that peer is a trusted proxy; then the right-most
    ``X-Forwarded-For`` hop that is not itself a trusted proxy. A spoofed header from an untrusted peer is ignored."""
    if not peer:
        return "unknown"
    if not trusted or not forwarded_for or not in_networks(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer
        if not in_networks(hop, trusted):
            return hop
    return hops[0] if hops else peer


def in_networks(address: str, networks: list[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)
