"""WebSocket test helpers."""


def token_header(key: str) -> tuple[bytes, bytes]:
    """An API client's token, sent as WebSocket clients must: in a header, never in the URL."""
    return (b"authorization", f"Token {key}".encode())
