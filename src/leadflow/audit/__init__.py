"""The audit log of security-relevant actions: written by accounts and administration, read by admins."""
