"""A client's personal data (SPEC §11): the admin's export and erasure of everything stored about a phone."""
