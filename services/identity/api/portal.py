"""/api/v1/portal (role client): My Information."""

from __future__ import annotations

from flask import Blueprint

from services.identity.api import client_address, identity
from services.identity.api.schemas import MyProfileIn, MyProfileOut, ProfileOut
from shared.auth import current_client_id, current_principal
from shared.schemas import plain_dumper
from shared.web import doc, load

bp = Blueprint("portal", __name__, url_prefix="/api/v1/portal")
profile_out = plain_dumper(ProfileOut())
my_profile_out = MyProfileOut()


@bp.get("/me")
@doc(response=ProfileOut, summary="My Information")
def get_me():
    return profile_out(identity().my_profile(current_client_id()))


@bp.patch("/me")
# A new e-mail (the address the client signs in with) asks for `password`, counted like a sign-in; it ends every
# session of the client, answers a new one in `session`, and tells the old address.
@doc(body=MyProfileIn, response=MyProfileOut, summary="Change My Information (staff are notified)")
def patch_me():
    data = load(MyProfileIn(), partial=True)
    return my_profile_out.dump(identity().update_my_profile(current_principal(), data, client_address()))
