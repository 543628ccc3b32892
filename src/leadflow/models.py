"""Every domain's models, imported once so that Alembic and the app see the whole schema."""

from leadflow.accounts import models as accounts_models
from leadflow.administration import models as administration_models
from leadflow.catalog import models as catalog_models
from leadflow.platform import idempotency
from leadflow.platform.db import Base

metadata = Base.metadata

__all__ = ["accounts_models", "administration_models", "catalog_models", "idempotency", "metadata"]
