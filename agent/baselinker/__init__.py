"""BaseLinker adapter: the HTTP client, its errors, TLS and the process-wide rate limiter."""
