"""The practice's service codes (CPT codes and their rates), which invoice lines are priced from."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.billing.domain.errors import DocumentNotFound, ServiceCodeTaken
from services.billing.models import ServiceCode
from services.billing.usecases.base import Context
from shared.db import unit_of_work


class ServiceCodes:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def create_service_code(self, data: dict) -> ServiceCode:
        with unit_of_work(self.ctx.sessions) as session:
            code = ServiceCode(code=data["code"].strip().upper(), description=data["description"],
                               rate_cents=data["rate_cents"], active=True)
            session.add(code)
            try:
                session.flush()
            except IntegrityError as exc:
                raise ServiceCodeTaken(f"Service code {code.code} already exists.") from exc
            return code

    def list_service_codes(self, include_inactive: bool) -> list[ServiceCode]:
        with unit_of_work(self.ctx.sessions) as session:
            stmt = select(ServiceCode).order_by(ServiceCode.code)
            if not include_inactive:
                stmt = stmt.where(ServiceCode.active.is_(True))
            return list(session.scalars(stmt))

    def update_service_code(self, code_id: str, data: dict) -> ServiceCode:
        with unit_of_work(self.ctx.sessions) as session:
            code = session.get(ServiceCode, code_id)
            if code is None:
                raise DocumentNotFound("No service code with this id.")
            for name, value in data.items():
                setattr(code, name, value)
            return code
