"""Sign-in: passwords, the lockout, sessions (refresh-token families), rotation and reuse detection.

A session is one ``auth_sessions`` row. Its refresh token is ``<session id>.<generation>.<mac>``, where the MAC is
derived from the secret key, the generation and a per-session nonce; only the current token's hash is stored. A
genuine token of an older generation is a reuse: the whole family is revoked. Access tokens are short-lived JWTs
that name the session, so a revoked session or a blocked user is cut off on the next request.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass

import pyotp
import structlog
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.lockout import LoginGuard, login_key
from leadflow.accounts.models import AuthSession, RecoveryCode, User, UserStatus
from leadflow.accounts.policies import Principal
from leadflow.audit import service as audit
from leadflow.platform.client import ClientInfo
from leadflow.platform.db import Database, utcnow
from leadflow.platform.problems import Conflict, Problem, Unauthenticated, ValidationProblem
from leadflow.platform.security import (
    PasswordHasher,
    Signer,
    TokenError,
    token_hash,
)
from leadflow.platform.settings import Settings

log = structlog.get_logger("leadflow.auth")

BAD_CREDENTIALS = "Wrong login or password."
# How long the refresh token just replaced by a concurrent refresh of the same browser still gets an access token.
ROTATION_GRACE_S = 20


class LoginLocked(Problem):
    status = 423
    type = "login-locked"

    def __init__(self, seconds: int) -> None:
        minutes = max(1, round(seconds / 60))
        super().__init__(
            f"Too many failed sign-ins; this login is locked for about {minutes} more minute(s).",
            headers={"Retry-After": str(max(1, seconds))},
        )


class BadCredentials(Unauthenticated):
    type = "invalid-credentials"

    def __init__(self) -> None:
        super().__init__(BAD_CREDENTIALS)


class OtpRequired(Unauthenticated):
    type = "otp-required"

    def __init__(self) -> None:
        super().__init__("Enter the code from your authenticator app (field otp).")


class AccountBlocked(Problem):
    status = 403
    type = "account-blocked"


@dataclass(frozen=True)
class IssuedSession:
    user: User
    session_id: str
    access_token: str
    refresh_token: str | None  # None: the session's refresh token did not change (the rotation grace, below)
    csrf_token: str
    expires_in: int


class AuthService:
    def __init__(self, settings: Settings, signer: Signer, hasher: PasswordHasher, guard: LoginGuard) -> None:
        self.settings = settings
        self.signer = signer
        self.hasher = hasher
        self.guard = guard

    # Sign-in ----------------------------------------------------------------------------------------------------
    async def login(
        self, session: AsyncSession, login: str, password: str, otp: str | None, client: ClientInfo, kind: str
    ) -> IssuedSession:
        key = login_key(login)
        # The attempt's reservation is given back if this ends with neither outcome (an error, a blocked account).
        async with self.guard.attempt(key) as attempt:
            if attempt.locked:
                audit.record(session, "login", actor_id=None, client=client, result="locked", login=key)
                await session.commit()
                raise LoginLocked(attempt.locked)

            user = await session.scalar(select(User).where(func.lower(User.login) == key, User.deleted_at.is_(None)))
            ok, upgraded_hash = await self.hasher.verify(password, user.password_hash if user else None)
            if ok and user is not None and user.totp_secret:
                if not otp:
                    # Neither outcome: the reservation is given back and the count stays, so wrong codes keep counting
                    # whatever comes between them. Only a full sign-in (password and code) clears it.
                    raise OtpRequired()
                ok = await self._check_otp(session, user, otp)
            if not ok or user is None:
                locked = await attempt.failed()
                audit.record(
                    session,
                    "login",
                    actor_id=user.id if user else None,
                    client=client,
                    result="locked" if locked else "failed",
                    login=key,
                )
                await session.commit()
                log.info("login_failed", locked=bool(locked))
                raise BadCredentials()
            if user.status != UserStatus.active:
                audit.record(session, "login", actor_id=user.id, client=client, result="blocked", login=key)
                await session.commit()
                raise AccountBlocked("This account is blocked; ask an administrator.")

            await attempt.success()
        if upgraded_hash:
            user.password_hash = upgraded_hash
        user.last_login_at = utcnow()
        issued = await self._open_session(session, user, client, kind)
        audit.record(session, "login", actor_id=user.id, client=client, login=key, data={"client": kind})
        await session.commit()
        return issued

    async def _check_otp(self, session: AsyncSession, user: User, otp: str) -> bool:
        """A current TOTP code not used before, or an unspent recovery code. Both are spent atomically, so the same
        code never signs in twice, even from two requests at once."""
        code = otp.replace(" ", "")
        if user.totp_secret and code.isdigit():
            step = _matching_step(user.totp_secret, code)
            if step is not None:
                spent = await session.execute(
                    update(User)
                    .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
                    .values(totp_last_step=step)
                )
                # Committed at once: a spent code stays spent, and no write lock is held while the lockout (its own
                # unit of work) records the outcome.
                await session.commit()
                return bool(spent.rowcount)  # type: ignore[attr-defined]
        used = await session.execute(
            delete(RecoveryCode).where(
                RecoveryCode.user_id == user.id, RecoveryCode.code_hash == token_hash(code.lower())
            )
        )
        await session.commit()
        return bool(used.rowcount)  # type: ignore[attr-defined]

    async def _verify_own_password(
        self,
        session: AsyncSession,
        user: User,
        password: str,
        action: str,
        field: str,
        client: ClientInfo,
        otp: str | None = None,
    ) -> None:
        """Re-checks the password of a signed-in user under the same lockout as sign-in (a stolen session must not
        become a password-guessing oracle). With ``otp``, the code is part of the same attempt: a wrong one counts
        as a failure, and only the password and the code together clear the count."""
        key = login_key(user.login)
        # Nothing else is pending here: end the transaction, so that no pooled connection is held while the lockout
        # may wait for a free attempt (the loaded rows stay usable).
        await session.commit()
        async with self.guard.attempt(key) as attempt:
            if attempt.locked:
                audit.record(
                    session,
                    action,
                    actor_id=user.id,
                    client=client,
                    result="locked",
                    target_type="user",
                    target_id=user.id,
                )
                await session.commit()
                raise LoginLocked(attempt.locked)
            ok, _ = await self.hasher.verify(password, user.password_hash)
            wrong = ValidationProblem.field(field, "The password is wrong.")
            if ok and otp is not None and not await self._check_otp(session, user, otp):
                ok = False
                wrong = ValidationProblem.field(
                    "otp", "The code does not match; use a current code or a recovery code."
                )
            if not ok:
                locked = await attempt.failed()
                audit.record(
                    session,
                    action,
                    actor_id=user.id,
                    client=client,
                    result="locked" if locked else "failed",
                    target_type="user",
                    target_id=user.id,
                )
                await session.commit()
                raise wrong
            await attempt.success()

    async def _open_session(self, session: AsyncSession, user: User, client: ClientInfo, kind: str) -> IssuedSession:
        now = utcnow()
        session_id = str(uuid.uuid4())
        nonce = secrets.token_urlsafe(24)
        refresh = self.signer.refresh_token(session_id, 0, nonce)
        session.add(
            AuthSession(
                id=session_id,
                user_id=user.id,
                refresh_hash=token_hash(refresh),
                nonce=nonce,
                generation=0,
                client=kind,
                ip=client.ip,
                user_agent=client.user_agent,
                created_at=now,
                last_used_at=now,
                expires_at=now + dt.timedelta(seconds=self.settings.refresh_token_ttl_s),
            )
        )
        return self._issue(user, session_id, refresh, now)

    def _issue(self, user: User, session_id: str, refresh: str | None, now: dt.datetime) -> IssuedSession:
        exempt = user.login.lower() in {x.lower() for x in self.settings.rate_limit_exempt_logins}
        return IssuedSession(
            user=user,
            session_id=session_id,
            access_token=self.signer.access_token(user.id, session_id, user.token_version, now, rate_exempt=exempt),
            refresh_token=refresh,
            csrf_token=self.signer.csrf_token(session_id),
            expires_in=self.settings.access_token_ttl_s,
        )

    # Refresh and logout -------------------------------------------------------------------------------------------
    async def refresh(
        self, session: AsyncSession, token: str, client: ClientInfo, *, grace: bool = False
    ) -> IssuedSession:
        """Rotate the refresh token: a new pair, the old token dead. A token of an older generation is a reuse and
        closes the session, with one exception when ``grace`` is asked for (the browser's cookie flow): the token
        rotated by a concurrent refresh less than ``ROTATION_GRACE_S`` ago. Two tabs of one browser refreshing at the
        same moment send the same cookie; the loser gets an access token for the same session and no new refresh
        token (the browser keeps the one the winner set), instead of being taken for a thief."""
        invalid = Unauthenticated("The refresh token is invalid or has expired; sign in again.", type="invalid-token")
        row = await self._genuine_row(session, token)
        if row is None:
            raise invalid
        session_id, generation, _ = self.signer.parse_refresh_token(token)
        now = utcnow()
        if row.revoked_at is not None or row.expires_at <= now:
            raise invalid
        if generation != row.generation or token_hash(token) != row.refresh_hash:
            if grace and self._just_rotated(row, generation, now):
                return self._issue(await self._active_user(session, row.user_id), session_id, None, now)
            await self._revoke_family(session, row, "reuse", client)
            raise Unauthenticated(
                "This refresh token was already used; the session is closed for safety. Sign in again.",
                type="refresh-token-reused",
            )
        user = await self._active_user(session, row.user_id)
        new_token = self.signer.refresh_token(session_id, generation + 1, row.nonce)
        result = await session.execute(
            update(AuthSession)
            .where(AuthSession.id == session_id, AuthSession.generation == generation, AuthSession.revoked_at.is_(None))
            .values(generation=generation + 1, refresh_hash=token_hash(new_token), last_used_at=now)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]  # a concurrent refresh won: this one is a reuse
            await session.rollback()
            current = await session.get(AuthSession, session_id, populate_existing=True)
            if current is not None and grace and self._just_rotated(current, generation, utcnow()):
                return self._issue(await self._active_user(session, current.user_id), session_id, None, now)
            if current is not None:
                await self._revoke_family(session, current, "reuse", client)
            raise invalid
        await session.commit()
        return self._issue(user, session_id, new_token, now)

    @staticmethod
    def _just_rotated(row: AuthSession, generation: int, now: dt.datetime) -> bool:
        return (
            row.revoked_at is None
            and generation == row.generation - 1
            and now - row.last_used_at <= dt.timedelta(seconds=ROTATION_GRACE_S)
        )

    async def _active_user(self, session: AsyncSession, user_id: int) -> User:
        user = await session.get(User, user_id)
        if user is None or user.deleted_at is not None or user.status != UserStatus.active:
            raise Unauthenticated("The refresh token is invalid or has expired; sign in again.", type="invalid-token")
        return user

    async def _revoke_family(self, session: AsyncSession, row: AuthSession, reason: str, client: ClientInfo) -> None:
        await _close_session(session, row.id, reason)
        audit.record(
            session,
            "refresh_token_reuse",
            actor_id=row.user_id,
            client=client,
            result="revoked",
            target_type="session",
            target_id=row.id,
        )
        await session.commit()
        log.warning("refresh_token_reuse", user_id=row.user_id)

    async def logout(self, session: AsyncSession, session_id: str, user_id: int | None, client: ClientInfo) -> None:
        await _close_session(session, session_id, "logout")
        audit.record(session, "logout", actor_id=user_id, client=client, target_type="session", target_id=session_id)
        await session.commit()

    async def logout_everywhere(self, session: AsyncSession, user_id: int, client: ClientInfo) -> None:
        """Close every live session of the user, this one included (a lost phone, a shared computer)."""
        await revoke_sessions(session, user_id, "logout_everywhere")
        audit.record(
            session, "logout_everywhere", actor_id=user_id, client=client, target_type="user", target_id=user_id
        )
        await session.commit()

    def session_of_refresh_token(self, token: str) -> str | None:
        """The session a refresh token names, from its form alone (for the CSRF check before the real one)."""
        try:
            return self.signer.parse_refresh_token(token)[0]
        except TokenError:
            return None

    async def genuine_session(self, session: AsyncSession, token: str) -> str:
        """The session of a refresh token that this server issued (any generation); 401 otherwise. Proves possession
        of the family's token before, for example, closing it: a bare session id is not enough."""
        row = await self._genuine_row(session, token)
        if row is None:
            raise Unauthenticated("The refresh token is invalid.", type="invalid-token")
        return row.id

    async def _genuine_row(self, session: AsyncSession, token: str) -> AuthSession | None:
        session_id = self.session_of_refresh_token(token)
        if session_id is None:
            return None
        row = await session.get(AuthSession, session_id)
        if row is None or not self.signer.refresh_token_is_genuine(token, row.nonce):
            return None
        return row

    # Passwords --------------------------------------------------------------------------------------------------
    async def change_password(
        self, session: AsyncSession, principal: Principal, current: str, new: str, client: ClientInfo
    ) -> None:
        user = await session.get(User, principal.id)
        assert user is not None
        await self._verify_own_password(session, user, current, "password_change", "current_password", client)
        if current == new:
            raise ValidationProblem.field("new_password", "The new password must differ from the current one.")
        user.password_hash = await self.hasher.hash(new)
        await revoke_sessions(session, user.id, "password_change", keep=principal.session_id)
        audit.record(session, "password_change", actor_id=user.id, client=client, target_type="user", target_id=user.id)
        await session.commit()

    # Two-factor -------------------------------------------------------------------------------------------------
    async def totp_setup(self, session: AsyncSession, principal: Principal, client: ClientInfo) -> tuple[str, str]:
        user = await session.get(User, principal.id)
        assert user is not None
        if user.totp_secret:
            raise Conflict("Two-factor sign-in is already on; turn it off first (POST /auth/2fa/disable).")
        secret = pyotp.random_base32()
        user.totp_pending_secret = secret
        audit.record(
            session, "2fa_setup_started", actor_id=user.id, client=client, target_type="user", target_id=user.id
        )
        await session.commit()
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.login, issuer_name="Leadflow")
        return secret, uri

    async def totp_confirm(
        self, session: AsyncSession, principal: Principal, code: str, password: str, client: ClientInfo
    ) -> list[str]:
        """Turns 2FA on; needs the password, so that a stolen session cannot put its own authenticator on the account
        and lock the owner out."""
        user = await session.get(User, principal.id)
        assert user is not None
        if not user.totp_pending_secret:
            raise ValidationProblem.field("code", "Start with POST /auth/2fa/setup.")
        await self._verify_own_password(session, user, password, "2fa_enable", "password", client)
        step = _matching_step(user.totp_pending_secret, code.replace(" ", ""))
        if step is None:
            raise ValidationProblem.field("code", "The code does not match; check the clock of your device.")
        user.totp_secret = user.totp_pending_secret
        user.totp_pending_secret = None
        user.totp_last_step = step
        codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
        await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        session.add_all(RecoveryCode(user_id=user.id, code_hash=token_hash(c)) for c in codes)
        audit.record(session, "2fa_enabled", actor_id=user.id, client=client, target_type="user", target_id=user.id)
        await session.commit()
        return codes

    async def totp_disable(
        self, session: AsyncSession, principal: Principal, password: str, otp: str, client: ClientInfo
    ) -> None:
        user = await session.get(User, principal.id)
        assert user is not None
        if not user.totp_secret:
            raise Conflict("Two-factor sign-in is not on.")
        await self._verify_own_password(session, user, password, "2fa_disable", "password", client, otp=otp)
        user.totp_secret = None
        user.totp_pending_secret = None
        user.totp_last_step = None
        await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        audit.record(session, "2fa_disabled", actor_id=user.id, client=client, target_type="user", target_id=user.id)
        await session.commit()


RECOVERY_CODES = 10


def _matching_step(secret: str, code: str) -> int | None:
    """The 30-second time step whose code this is (the current one, or one either side for clock drift)."""
    totp = pyotp.TOTP(secret)
    now = utcnow()
    current = totp.timecode(now)
    for offset in (0, -1, 1):
        if secrets.compare_digest(totp.at(now, counter_offset=offset), code):
            return current + offset
    return None


SESSION_RETENTION = dt.timedelta(days=30)


async def purge_sessions(database: Database) -> int:
    """Forget sessions that expired or were revoked more than :data:`SESSION_RETENTION` ago (the audit log keeps the
    history). Run at start-up until the periodic jobs arrive."""
    cutoff = utcnow() - SESSION_RETENTION
    async with database.session() as session:
        result = await session.execute(
            delete(AuthSession).where(or_(AuthSession.expires_at < cutoff, AuthSession.revoked_at < cutoff))
        )
        await session.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def _close_session(session: AsyncSession, session_id: str, reason: str) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )


async def revoke_sessions(session: AsyncSession, user_id: int, reason: str, keep: str | None = None) -> None:
    """Revoke every live session of a user (but ``keep``). Access tokens die with their session."""
    query = update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(AuthSession.id != keep)
    await session.execute(query.values(revoked_at=utcnow(), revoked_reason=reason))
