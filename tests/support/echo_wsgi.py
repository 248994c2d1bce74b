"""A WSGI app that answers each request with what it received, for running under gunicorn in tests.

`gunicorn -c deploy/gunicorn.conf.py "tests.support.echo_wsgi:app"`: the services' real server in front
of an app that tells whose request an answer belongs to (method, path, query, headers, body).
`/status/<n>` answers that status with no body; `/big/<n>` answers n bytes of "x".
"""

from __future__ import annotations

import json


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    body = environ["wsgi.input"].read()
    if path == "/healthz":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[-2] == "status":
        start_response(f"{parts[-1]} Status", [("X-Echo-Path", path)])
        return [b""]
    if len(parts) >= 2 and parts[-2] == "big":
        size = int(parts[-1])
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size)),
                                  ("X-Echo-Path", path)])
        return [b"x" * size]
    seen = {
        "method": environ["REQUEST_METHOD"],
        "path": path,
        "query": environ.get("QUERY_STRING", ""),
        "headers": {k: v for k, v in environ.items() if k.startswith("HTTP_") or k in ("CONTENT_TYPE",
                                                                                      "CONTENT_LENGTH")},
        "body": body.decode("utf-8", "replace"),
        "body_length": len(body),
    }
    payload = json.dumps(seen).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
                              ("X-Echo-Path", path)])
    return [payload]
