"""Test support: real loopback servers (IMAP, S3) as pytest fixtures, and builders of provider e-mails."""
