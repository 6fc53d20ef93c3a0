"""The HTTP edge: ASGI app, authentication against the store, TLS material."""
