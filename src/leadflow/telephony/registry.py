"""Which providers this deployment talks to: a provider is live once its credentials are set."""

from __future__ import annotations

from leadflow.platform.settings import Settings
from leadflow.telephony.mango import MangoProvider
from leadflow.telephony.providers import Provider

KNOWN = frozenset({"mango"})


def configured(settings: Settings) -> dict[str, Provider]:
    providers: dict[str, Provider] = {}
    if settings.mango_api_key and settings.mango_api_salt:
        providers["mango"] = MangoProvider(settings.mango_api_key, settings.mango_api_salt)
    return providers
