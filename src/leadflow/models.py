"""Every domain's models, imported once so that Alembic and the app see the whole schema."""

from leadflow.accounts import models as accounts_models
from leadflow.administration import models as administration_models
from leadflow.audit import models as audit_models
from leadflow.campaigns import models as campaigns_models
from leadflow.cash import models as cash_models
from leadflow.catalog import models as catalog_models
from leadflow.files import models as files_models
from leadflow.legacy import models as legacy_models
from leadflow.platform import idempotency, jobs
from leadflow.platform.db import Base
from leadflow.recordings import models as recordings_models
from leadflow.requests import models as requests_models
from leadflow.telephony import models as telephony_models

metadata = Base.metadata

__all__ = [
    "accounts_models",
    "administration_models",
    "audit_models",
    "campaigns_models",
    "cash_models",
    "catalog_models",
    "files_models",
    "idempotency",
    "jobs",
    "legacy_models",
    "metadata",
    "recordings_models",
    "requests_models",
    "telephony_models",
]
