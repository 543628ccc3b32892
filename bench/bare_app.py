"""The yardstick of SPEC §13: a bare FastAPI endpoint, served the same way as Leadflow (uvicorn, one process, the same
server options as `leadflow serve`), so that the service's throughput can be reported as a ratio to it in the same run.

    uv run python bench/bare_app.py --port 0     # prints `listening on http://127.0.0.1:PORT`, like `leadflow serve`

or with uvicorn's own command line:

    uv run uvicorn --app-dir bench bare_app:app --port 8799 --log-level warning --no-access-log
"""

from __future__ import annotations

import argparse
import socket

from fastapi import FastAPI

app = FastAPI()


@app.get("/bare")
async def bare() -> dict[str, bool]:
    return {"ok": True}


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(2048)
    # The options of `leadflow serve` (src/leadflow/cli.py), bar the app itself.
    config = uvicorn.Config(
        app,
        proxy_headers=False,
        server_header=False,
        date_header=True,
        access_log=False,
        log_level="warning",
        lifespan="on",
    )
    print(f"listening on http://{args.host}:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
