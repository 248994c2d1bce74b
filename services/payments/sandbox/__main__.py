"""`python -m services.payments.sandbox --port 8090`: the sandbox processor on werkzeug's dev server.

For anything longer-lived use gunicorn, one worker with threads:
    gunicorn -w 1 --threads 8 -b 127.0.0.1:8090 "services.payments.sandbox.app:create_app()"
"""

from __future__ import annotations

import argparse

from services.payments.sandbox.app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.payments.sandbox",
                                     description="Sandbox card processor (never in production).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args(argv)
    create_app().run(host=args.host, port=args.port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
