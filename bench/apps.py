"""The two reference apps the HTTP benchmark puts beside the suite.

* `ceiling_app()`: the least a Flask app can do for `GET /api/v1/portal/me`: one SELECT by primary
  key over a plain psycopg connection (one per thread, autocommit), jsonify, done. No token check,
  no ORM, no metrics. Identity direct is measured against it.
* `floor_app()`: the proxy anyone writes first: a Flask catch-all route that forwards with
  `requests.request(...)` (no session, so a new upstream connection per request) and copies the
  answer back. The gateway is measured against it.

Both run under gunicorn with deploy/gunicorn.conf.py, like the suite's own processes:
    gunicorn -c deploy/gunicorn.conf.py -b 127.0.0.1:PORT "bench.apps:ceiling_app()"
Settings come from the environment: BENCH_DSN and BENCH_CLIENT_ID (ceiling), IDENTITY_URL (floor).
"""

from __future__ import annotations

import os
import threading

from flask import Flask, Response, jsonify, request

_CLIENT_COLUMNS = ("first_name", "last_name", "preferred_name", "date_of_birth", "email", "phone", "address",
                   "emergency_contact", "insurance")


def ceiling_app() -> Flask:
    import psycopg

    dsn = os.environ["BENCH_DSN"]
    client_id = os.environ["BENCH_CLIENT_ID"]
    local = threading.local()
    query = f"SELECT {', '.join(_CLIENT_COLUMNS)} FROM clients WHERE id = %s"  # noqa: S608 (constant columns)
    app = Flask(__name__)

    def connection():
        conn = getattr(local, "conn", None)
        if conn is None or conn.closed:
            conn = local.conn = psycopg.connect(dsn, autocommit=True)
        return conn

    @app.get("/api/v1/portal/me")
    def me():
        row = connection().execute(query, (client_id,)).fetchone()
        if row is None:
            return jsonify(error="not found"), 404
        data = dict(zip(_CLIENT_COLUMNS, row, strict=True))
        data["date_of_birth"] = data["date_of_birth"].isoformat()
        return jsonify(data)

    @app.get("/readyz")
    def readyz():
        connection().execute("SELECT 1")
        return jsonify(status="ready")

    return app


_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade", "content-length", "content-encoding", "host"}


def floor_app() -> Flask:
    import requests

    upstream = os.environ["IDENTITY_URL"].rstrip("/")
    app = Flask(__name__)

    @app.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def proxy(path: str):
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream_response = requests.request(request.method, f"{upstream}/{path}", params=request.args,
                                             data=request.get_data(), headers=headers, timeout=15,
                                             allow_redirects=False)
        out = [(k, v) for k, v in upstream_response.headers.items() if k.lower() not in _HOP_BY_HOP]
        return Response(upstream_response.content, upstream_response.status_code, out)

    return app
