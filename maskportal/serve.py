"""The web process: uvicorn serving the ASGI application (pages, REST API and WebSockets).

`python -m maskportal.serve [--host H] [--port P] [--workers N]`. The Procfile, the browser tests
and the benchmarks all start it this way, so they run the server as it is deployed.
"""

from __future__ import annotations

import argparse
import os

import uvicorn

#: Largest WebSocket message; the server closes a socket that sends more. Keep LIVE_MAX_FRAME_BYTES
#: (answered with an error, socket kept open) below it.
WS_MAX_BYTES = 1024 * 1024
#: Seconds open sockets get to close on shutdown before they are cut (Ctrl-C never hangs).
SHUTDOWN_GRACE_S = 10


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("MASKPORTAL_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("MASKPORTAL_PORT", "8000")))
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1")),
        help="server processes (default: WEB_CONCURRENCY or 1); more than one needs REDIS_URL",
    )  # fmt: skip
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maskportal.settings.development")
    from maskportal.realtime import layer_is_process_local  # reads the settings (.env included)

    if args.workers > 1 and layer_is_process_local():  # a socket would miss the other processes' events
        parser.error("more than one worker needs REDIS_URL (live events are shared through Redis)")
    uvicorn.run(
        "maskportal.asgi:application", host=args.host, port=args.port, workers=args.workers, lifespan="off",
        ws_max_size=WS_MAX_BYTES, timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )  # fmt: skip


if __name__ == "__main__":
    main()
