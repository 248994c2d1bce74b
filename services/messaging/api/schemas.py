"""Messaging's request and response schemas (marshmallow); unknown fields are refused. The lengths a subject and a
body may have are the domain's (domain/messages.py), checked there too, so a multipart form and JSON answer alike."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.messaging.domain.messages import BODY_MAX, SUBJECT_MAX
from shared.pagination import PageQuery, page_of
from shared.schemas import Strict, StrictInt

Id = lambda **kw: fields.String(validate=validate.Length(min=1, max=36), **kw)  # noqa: E731
# A little room over the domain's limit, so the domain's own sentence (with the limit in it) is what a client reads
# for a body a few characters too long; far longer ones stop here.
SUBJECT = validate.Length(max=SUBJECT_MAX * 2)
BODY = validate.Length(max=BODY_MAX * 2)


class QueryBool(fields.String):
    """`true` or `false` in a query string, nothing else."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if text not in ("true", "false"):
            raise self.make_error("invalid")
        return text == "true"

    default_error_messages = {"invalid": "Use true or false."}


class ThreadIn(Strict):
    subject = fields.String(required=True, validate=SUBJECT)
    body = fields.String(required=True, validate=BODY)


class StaffThreadIn(ThreadIn):
    client_id = Id(required=True)


class ReplyIn(Strict):
    body = fields.String(required=True, validate=BODY)


class AssignIn(Strict):
    staff_user_id = Id(required=True, allow_none=True)


class AttachmentOut(Schema):
    id = fields.String()
    filename = fields.String()
    content_type = fields.String()
    size_bytes = fields.Integer()


class MessageOut(Schema):
    id = fields.String()
    thread_id = fields.String()
    body = fields.String()
    sender_role = fields.String()
    sender_name = fields.String()
    sent_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)  # when the other side read it
    attachments = fields.List(fields.Nested(AttachmentOut))


class Named(Schema):
    id = fields.String()
    name = fields.String()


class ThreadSummaryOut(Schema):
    id = fields.String()
    subject = fields.String()
    last_message_at = fields.DateTime()
    unread_count = fields.Integer()


class StaffThreadSummaryOut(ThreadSummaryOut):
    client = fields.Nested(Named)
    assigned_to = fields.Nested(Named, allow_none=True)


class ThreadOut(ThreadSummaryOut):
    created_at = fields.DateTime()
    started_by = fields.String()
    messages = fields.List(fields.Nested(MessageOut))


class StaffThreadOut(ThreadOut):
    client = fields.Nested(Named)
    assigned_to = fields.Nested(Named, allow_none=True)


ThreadPage = page_of(ThreadSummaryOut, "ThreadPage")
StaffThreadPage = page_of(StaffThreadSummaryOut, "StaffThreadPage")


class ThreadQuery(PageQuery):
    pass


class StaffThreadQuery(PageQuery):
    client_id = Id(load_default=None)
    unread = QueryBool(load_default=None)
    assigned_to = Id(load_default=None)


class UnreadOut(Schema):
    unread = fields.Integer()


class NotificationOut(Schema):
    id = fields.String()
    type = fields.String()
    title = fields.String()
    body = fields.String()
    link = fields.String(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


NotificationPage = page_of(NotificationOut, "NotificationPage")


class NotificationQuery(PageQuery):
    unread = QueryBool(load_default=None)


class AssigneeOut(Schema):
    id = fields.String(attribute="user_id")
    name = fields.String()
    role = fields.String()


class SettingsOut(Schema):
    client_email_delay_minutes = fields.Integer()
    practice_name = fields.String()
    practice_email = fields.String(allow_none=True)


class SettingsPatch(Strict):
    client_email_delay_minutes = StrictInt(validate=validate.Range(min=0, max=24 * 60))
