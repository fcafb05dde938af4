"""WebSocket test helpers."""


def token_header(key: str) -> tuple[bytes, bytes]:
    """An API client's token, sent as WebSocket clients must: in a header, never in the URL."""
    return (b"authorization", f"Token {key}".encode())


#: A live socket's disconnect finishes its frame and logs its open tracks; a communicator that stops
#: waiting sooner cancels the consumer, and that work would go on in its threads after the test.
DISCONNECT_S = 30


async def close(communicator, timeout: float = DISCONNECT_S) -> None:
    """Disconnect `communicator` unless its application has already ended (closed by the server,
    or cancelled by a receive that timed out).

    Disconnecting an ended one re-raises how it ended; a cancelled one raises CancelledError, a
    BaseException: in a fixture's teardown it stops pytest's remaining teardown, the database
    flush included, and every later test then runs on what this one left.
    """
    if not communicator.future.done():
        await communicator.disconnect(timeout=timeout)
