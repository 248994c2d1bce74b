"""/internal/v1 (the suite's own services, with the internal key; never routed by the gateway): the sessions ended
lately, for every token checker, and the practice settings as they are now, for decisions a switch controls."""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, jsonify, request

from services.identity.api import identity
from services.identity.api.schemas import SettingsOut
from shared.errors import Unauthorized
from shared.web import doc

bp = Blueprint("identity_internal", __name__, url_prefix="/internal/v1")


@bp.before_request
def _service_key():
    expected = current_app.config["PORTAL"].internal_api_key or ""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not expected or not hmac.compare_digest(given.strip().encode(),
                                                                             expected.encode()):
        raise Unauthorized("This endpoint is for the suite's own services.")


def _live(response):
    response.headers["Cache-Control"] = "no-store"  # the truth of this moment, never a cached copy
    return response


@bp.get("/revoked-sessions")
@doc(summary="Sessions ended within an access token's lifetime: their tokens are refused everywhere")
def revoked_sessions():
    response = jsonify(identity().revoked_sessions())
    response.add_etag()  # a poller sending If-None-Match gets 304 while nothing changed
    return _live(response.make_conditional(request))


settings_out = SettingsOut()


@bp.get("/settings")
@doc(response=SettingsOut, summary="The practice settings, read now (payments and billing, before a decision)")
def settings():
    return _live(jsonify(settings_out.dump(identity().current_settings())))
