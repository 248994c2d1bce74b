"""Messaging's HTTP adapters: thin routes that parse (JSON, or a multipart form with attachments), call one use
case, and dump."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from urllib.parse import quote

from flask import Response, current_app, request
from marshmallow import Schema

from services.messaging.service import MessagingService
from services.messaging.usecases.threads import Upload
from shared.web import load


def messaging() -> MessagingService:
    return current_app.extensions["messaging"]


def message_body(schema: Schema) -> tuple[dict, list[Upload]]:
    """The fields and the attachments of a message: JSON (no attachments), or multipart/form-data with the same
    fields and `attachments` repeated. Unknown form fields are refused as unknown JSON members are."""
    if request.mimetype == "multipart/form-data":
        form = {name: request.form.get(name) for name in request.form}
        data = schema.load(form)
        unknown_files = set(request.files) - {"attachments"}
        if unknown_files:
            schema.load({**form, **{name: "" for name in unknown_files}})  # the schema names them: 422
        uploads = [Upload(f.filename, f.stream) for f in request.files.getlist("attachments") if f.filename]
        return data, uploads
    return load(schema), []


def download(meta: dict, chunks: Iterator[bytes]) -> Response:
    """An attachment, streamed chunk by chunk, always as a download (never rendered by the browser)."""
    name = meta["filename"]
    fallback = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    response = Response(chunks, mimetype=meta["content_type"], direct_passthrough=True)
    response.headers["Content-Length"] = str(meta["size_bytes"])
    response.headers["Content-Disposition"] = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    digest = base64.b64encode(bytes.fromhex(meta["sha256"])).decode()
    response.headers["Repr-Digest"] = f"sha-256=:{digest}:"  # RFC 9530: the client can check what it got
    return response
