"""Scheduling's HTTP adapters: thin routes that parse, call one use case, and dump."""

from flask import Response, current_app

from services.scheduling.service import SchedulingService


def scheduling() -> SchedulingService:
    return current_app.extensions["scheduling"]


def zone_of(view: dict) -> str:
    """The clock an appointment's times are written on in its files (files.py): its site's, else the practice's."""
    return view["timezone"]


def file_response(data: bytes, mimetype: str, filename: str, *, inline: bool = False) -> Response:
    response = Response(data, mimetype=mimetype.split(";")[0])
    if "charset" in mimetype:
        response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f'{"inline" if inline else "attachment"}; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
