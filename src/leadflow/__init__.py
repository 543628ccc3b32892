"""Leadflow: the backend of a service company that runs on phone leads."""

__version__ = "0.1.0"
