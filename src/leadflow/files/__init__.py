"""Files: uploads (sniffed, size-limited, streamed to storage), downloads with ranges, and the access log."""
