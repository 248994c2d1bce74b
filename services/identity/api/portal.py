"""/api/v1/portal (role client): My Information."""

from __future__ import annotations

from flask import Blueprint

from services.identity.api import identity
from services.identity.api.schemas import ProfileFields, ProfileOut
from shared.auth import current_principal
from shared.web import doc, load

bp = Blueprint("portal", __name__, url_prefix="/api/v1/portal")
profile_out = ProfileOut()


@bp.get("/me")
@doc(response=ProfileOut, summary="My Information")
def get_me():
    return profile_out.dump(identity().my_profile(current_principal().client_id))


@bp.patch("/me")
@doc(body=ProfileFields, response=ProfileOut, summary="Change My Information (staff are notified)")
def patch_me():
    data = load(ProfileFields(), partial=True)
    return profile_out.dump(identity().update_my_profile(current_principal().client_id, data))
