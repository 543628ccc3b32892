"""Reports (SPEC §8): read-only SQL aggregation over requests, cash, campaigns, calls and accounts."""
