"""/api/v1/staff (role staff or admin): client records, invitations, settings, staff users, profile changes."""

from __future__ import annotations

from flask import Blueprint

from services.identity.api import client_address, identity
from services.identity.api.schemas import (
    ClientIn,
    ClientOut,
    ClientPage,
    ClientQuery,
    InvitationOut,
    MfaCodeIn,
    MfaSetupOut,
    PasswordIn,
    ProfileChangeOut,
    ProfileChangePage,
    ProfileChangeQuery,
    ProfileFields,
    ReviewIn,
    SettingsIn,
    SettingsOut,
    StaffUserIn,
    StaffUserPatchIn,
    TokensOut,
    UserList,
    UserOut,
)
from shared.auth import current_principal, require_roles
from shared.web import doc, load, load_query

bp = Blueprint("staff", __name__, url_prefix="/api/v1/staff")


@bp.post("/users")
@require_roles("admin")
@doc(body=StaffUserIn, response=UserOut, status=201, summary="Create a staff user (admin)")
def create_user():
    return UserOut().dump(identity().create_staff_user(load(StaffUserIn()))), 201


@bp.get("/users")
@require_roles("admin")
@doc(response=UserList, summary="Staff users (admin)")
def list_users():
    return UserList().dump({"items": identity().list_staff_users(), "next_cursor": None})


@bp.patch("/users/<user_id>")
@require_roles("admin")
@doc(body=StaffUserPatchIn, response=UserOut, summary="Deactivate a staff user (every session ends) or reactivate")
def patch_user(user_id: str):
    active = load(StaffUserPatchIn())["active"]
    return UserOut().dump(identity().set_staff_active(user_id, active, current_principal()))


@bp.get("/me")
@doc(response=UserOut, summary="The signed-in staff member")
def me():
    return UserOut().dump(identity().get_user(current_principal().user_id))


# Each change of two-factor asks for the password again, ends every session of the user and answers a new one.
@bp.post("/me/mfa/setup")
@doc(body=PasswordIn, response=MfaSetupOut, summary="Start two-factor set-up: a secret for the authenticator app")
def mfa_setup():
    password = load(PasswordIn())["password"]
    result = identity().mfa_setup(current_principal().user_id, password, client_address())
    return MfaSetupOut().dump({**vars(result.pop("tokens")), **result})


@bp.post("/me/mfa/enable")
@doc(body=MfaCodeIn, response=TokensOut, summary="Turn two-factor sign-in on with a first code")
def mfa_enable():
    data = load(MfaCodeIn())
    return TokensOut().dump(identity().mfa_enable(current_principal().user_id, data["code"], data["password"],
                                                  client_address()))


@bp.post("/me/mfa/disable")
@doc(body=PasswordIn, response=TokensOut, summary="Turn two-factor sign-in off")
def mfa_disable():
    password = load(PasswordIn())["password"]
    return TokensOut().dump(identity().mfa_disable(current_principal().user_id, password, client_address()))


@bp.post("/clients")
@doc(body=ClientIn, response=ClientOut, status=201, summary="Create a client record")
def create_client():
    return ClientOut().dump(identity().create_client(load(ClientIn()), current_principal())), 201


@bp.get("/clients")
@doc(query=ClientQuery, response=ClientPage, summary="List and search clients")
def list_clients():
    query = load_query(ClientQuery())
    items, next_cursor = identity().search_clients(query["q"], query["limit"], query["cursor"])
    return ClientPage().dump({"items": items, "next_cursor": next_cursor})


@bp.get("/clients/<client_id>")
@doc(response=ClientOut, summary="One client record")
def get_client(client_id: str):
    return ClientOut().dump(identity().get_client(client_id))


@bp.patch("/clients/<client_id>")
@doc(body=ProfileFields, response=ClientOut, summary="Edit a client record")
def patch_client(client_id: str):
    data = load(ProfileFields(), partial=True)
    return ClientOut().dump(identity().update_client(client_id, data, current_principal()))


@bp.post("/clients/<client_id>/invitation")
@doc(response=InvitationOut, status=201, summary="E-mail the portal registration link")
def invite(client_id: str):
    return InvitationOut().dump(identity().invite(client_id, current_principal())), 201


@bp.get("/settings")
@doc(response=SettingsOut, summary="Practice settings")
def get_settings():
    return SettingsOut().dump(identity().get_settings())


@bp.patch("/settings")
@doc(body=SettingsIn, response=SettingsOut, summary="Change practice settings")
def patch_settings():
    return SettingsOut().dump(identity().update_settings(load(SettingsIn(), partial=True)))


@bp.get("/profile-changes")
@doc(query=ProfileChangeQuery, response=ProfileChangePage, summary="Client edits to review")
def list_profile_changes():
    query = load_query(ProfileChangeQuery())
    items, next_cursor = identity().list_profile_changes(query["status"], query["limit"], query["cursor"])
    return ProfileChangePage().dump({"items": items, "next_cursor": next_cursor})


@bp.post("/profile-changes/<change_id>/review")
@doc(body=ReviewIn, response=ProfileChangeOut, summary="Accept or revert a client's edit")
def review_profile_change(change_id: str):
    data = load(ReviewIn())
    return ProfileChangeOut().dump(identity().review_profile_change(change_id, data["decision"], data.get("note"),
                                                                    current_principal()))
