"""Where the versioned API is mounted. Routers carry the full prefix so that route templates (logs, metrics
labels) are the paths clients see."""

API_PREFIX = "/api/v1"
