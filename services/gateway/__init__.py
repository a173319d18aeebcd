"""The HTTP gateway: a JSON API and web pages over the other services' RPCs."""
