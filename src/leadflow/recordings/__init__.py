"""Call recordings: the mailbox sync, linking to requests, manual links."""
