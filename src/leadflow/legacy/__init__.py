"""``leadflow import-leadschem``: copy an existing LeadSchem PostgreSQL database into Leadflow (docs/import.md)."""
