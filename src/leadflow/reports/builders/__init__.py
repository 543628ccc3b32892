"""The reports of SPEC §8, one module each, aggregated in SQL over every matching row (docs/reports.md has the
definitions).

This domain reads the tables of requests, cash, campaigns, telephony and accounts directly: it is the one place
allowed to (ARCHITECTURE), because a report is a join over them and must be one statement per figure group, not a
walk through other services. It never writes. Each builder takes a read session (``Database.read_session``: the
replica when configured) and the resolved :class:`~leadflow.reports.access.Scope`, and answers a pydantic report.
"""
