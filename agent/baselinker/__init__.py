"""BaseLinker adapter: the HTTP client, the process-wide rate limiter and the local sandbox."""
