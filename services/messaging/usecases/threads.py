"""Secure messages: a thread started by a client or by staff, replies from either side with attachments, reading
(which marks the other side's messages read for the reader's side only), the practice inbox with its filters and
assignment, and attachments' downloads.

A message, its attachments' rows and their bytes, and the message.sent event commit in one transaction: a refused
file (type, size, count) refuses the whole message and nothing is written."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.orm import Session

from services.messaging.domain import messages as rules
from services.messaging.domain.errors import (
    AttachmentNotFound,
    NotReadyYet,
    ThreadNotFound,
    UnknownClient,
    UnknownStaffMember,
)
from services.messaging.models import Attachment, Client, Message, StaffMember, Thread
from services.messaging.usecases.base import (
    Context,
    client_name,
    in_transaction,
    person_name,
    practice,
    publish,
    staff_name,
)
from shared.db import new_id
from shared.pagination import decode_cursor, encode_cursor

OTHER = {"client": "staff", "staff": "client"}


@dataclass
class Upload:
    """An attachment as a route hands it over: the name its sender gave and a seekable stream of its bytes."""

    filename: str | None
    stream: BinaryIO


@dataclass(frozen=True)
class _Checked:
    filename: str
    content_type: str
    stream: BinaryIO


def check_uploads(uploads: list[Upload]) -> list[_Checked]:
    """Every file's name, size and type before anything is written (422 for the first that fails)."""
    rules.check_count(len(uploads))
    checked = []
    for upload in uploads:
        name = rules.safe_filename(upload.filename)
        stream = upload.stream
        stream.seek(0, 2)
        rules.check_size(name, stream.tell())
        stream.seek(0)
        head = stream.read(rules.SNIFF_BYTES)
        stream.seek(0)
        kind = rules.sniff(name, head)
        rules.check_whole(name, kind, stream)
        stream.seek(0)
        checked.append(_Checked(name, kind.content_type, stream))
    return checked


class Threads:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    # --- writing -----------------------------------------------------------------------------------------------
    def start(self, *, side: str, sender_id: str, client_id: str, subject: str, body: str,
              uploads: list[Upload] = ()) -> dict:
        subject, body = rules.clean_subject(subject), rules.clean_body(body)
        files = check_uploads(list(uploads))
        with in_transaction(self.ctx) as session:
            self._client(session, client_id, side)
            now = self.ctx.clock()
            thread = Thread(id=new_id(), client_id=client_id, subject=subject, started_by=side, created_at=now,
                            last_message_at=now)
            session.add(thread)
            session.flush()
            self._add_message(session, thread, side, sender_id, body, files)
            return self._view(session, thread, side)

    def reply(self, *, side: str, sender_id: str, thread_id: str, body: str, client_id: str | None = None,
              uploads: list[Upload] = ()) -> dict:
        body = rules.clean_body(body)
        files = check_uploads(list(uploads))
        with in_transaction(self.ctx) as session:
            thread = self._thread(session, thread_id, client_id, lock=True)
            message = self._add_message(session, thread, side, sender_id, body, files)
            # No read marking here: a message of the other side's that came after the replier opened the thread
            # has not been seen. Opening the thread (get) is reading.
            return self._message_view(session, message)

    def assign(self, thread_id: str, staff_user_id: str | None) -> dict:
        with in_transaction(self.ctx) as session:
            thread = self._thread(session, thread_id, None, lock=True)
            if staff_user_id is not None:
                member = session.get(StaffMember, staff_user_id)
                if member is None or not member.active:
                    raise UnknownStaffMember("No active staff member with this id.",
                                             errors={"staff_user_id": ["Not an active staff member."]})
            thread.assigned_staff_id = staff_user_id
            session.flush()
            return self._summary(session, [thread], "staff")[0]

    # --- reading -----------------------------------------------------------------------------------------------
    def assignees(self) -> list[dict]:
        with in_transaction(self.ctx) as session:
            name = practice(session).practice_name
            members = session.scalars(select(StaffMember).where(StaffMember.active.is_(True))
                                      .order_by(StaffMember.last_name, StaffMember.first_name, StaffMember.user_id))
            return [{"user_id": m.user_id, "name": staff_name(m, name), "role": m.role} for m in members]

    def get(self, thread_id: str, *, side: str, client_id: str | None = None) -> dict:
        """The thread with its messages; the other side's messages are read by this side from now on."""
        with in_transaction(self.ctx) as session:
            thread = self._thread(session, thread_id, client_id)
            view = self._view(session, thread, side)
            # What this answer shows is read, and only that: a message committed after the view's read stays
            # unread (its e-mail still goes), whatever the isolation level.
            seqs = [m["seq"] for m in view["messages"] if m["sender_role"] == OTHER[side] and m["read_at"] is None]
            if seqs:
                self._mark_read(session, thread.id, side, through=max(seqs))
                view["unread_count"] = 0
            return view

    def list(self, *, side: str, client_id: str | None = None, unread: bool | None = None,
             assigned_to: str | None = None, limit: int = 50,
             cursor: str | None = None) -> tuple[list[dict], str | None]:
        """A page of threads, the latest first, each with its unread count for `side` (and for staff the client's
        and assignee's names): one statement (the inbox of a practice with 10,000 threads is one index scan)."""
        other = OTHER[side]
        unread_count = (select(func.count()).where(Message.thread_id == Thread.id, Message.read_at.is_(None),
                                                   Message.sender_role == other)
                        .correlate(Thread).scalar_subquery().label("unread_count"))
        columns = [Thread.id, Thread.subject, Thread.last_message_at, Thread.client_id, Thread.assigned_staff_id,
                   unread_count]
        stmt = select(*columns).select_from(Thread)
        if side == "staff":
            stmt = (stmt.add_columns(Client.first_name, Client.preferred_name, Client.last_name,
                                     StaffMember.first_name.label("staff_first_name"),
                                     StaffMember.last_name.label("staff_last_name"))
                    .outerjoin(Client, Client.client_id == Thread.client_id)
                    .outerjoin(StaffMember, StaffMember.user_id == Thread.assigned_staff_id))
        if client_id is not None:
            stmt = stmt.where(Thread.client_id == client_id)
        if assigned_to is not None:
            stmt = stmt.where(Thread.assigned_staff_id == assigned_to)
        if unread is not None:
            # the threads with unread messages: from the partial index of unread messages, a small set
            waiting = select(Message.thread_id).where(Message.read_at.is_(None), Message.sender_role == other)
            stmt = stmt.where(Thread.id.in_(waiting) if unread else Thread.id.not_in(waiting))
        if cursor:
            after = decode_cursor(cursor, [datetime, str])
            stmt = stmt.where(tuple_(Thread.last_message_at, Thread.id) < tuple_(*after))
        stmt = stmt.order_by(Thread.last_message_at.desc(), Thread.id.desc()).limit(limit + 1)
        with in_transaction(self.ctx) as session:
            rows = session.execute(stmt).all()
            next_cursor = None
            if len(rows) > limit:
                rows = rows[:limit]
                next_cursor = encode_cursor([rows[-1].last_message_at, rows[-1].id])
            nameless = side == "staff" and any(r.assigned_staff_id and not (r.staff_first_name or r.staff_last_name)
                                               for r in rows)
            practice_name = practice(session).practice_name if nameless else ""
        items = []
        for r in rows:
            item = {"id": r.id, "subject": r.subject, "last_message_at": r.last_message_at,
                    "unread_count": r.unread_count}
            if side == "staff":
                item["client"] = {"id": r.client_id, "name": person_name(r.first_name, r.preferred_name,
                                                                         r.last_name) or "A client"}
                item["assigned_to"] = ({"id": r.assigned_staff_id,
                                        "name": person_name(r.staff_first_name, None, r.staff_last_name)
                                        or f"{practice_name} staff"} if r.assigned_staff_id else None)
            items.append(item)
        return items, next_cursor

    def unread_count(self, *, side: str, client_id: str | None = None) -> int:
        """Messages from the other side this side has not read: for a client, the practice's to them; for staff,
        every client's to the practice. The list's unread_count values add up to it."""
        with in_transaction(self.ctx) as session:
            stmt = select(func.count()).select_from(Message).where(Message.read_at.is_(None),
                                                                   Message.sender_role == OTHER[side])
            if client_id is not None:
                stmt = stmt.where(Message.client_id == client_id)
            return session.scalar(stmt)

    def attachment(self, attachment_id: str, *, client_id: str | None = None) -> tuple[dict, Iterator[bytes]]:
        with in_transaction(self.ctx) as session:
            stmt = select(Attachment).where(Attachment.id == attachment_id)
            if client_id is not None:
                stmt = stmt.where(Attachment.client_id == client_id)
            found = session.scalars(stmt).first()
            if found is None:
                raise AttachmentNotFound("Attachment not found.")
            meta = _attachment_view(found) | {"sha256": found.sha256}
        return meta, self.ctx.store.chunks(attachment_id)

    # --- inside a transaction ----------------------------------------------------------------------------------
    def _client(self, session: Session, client_id: str, side: str) -> Client:
        client = session.get(Client, client_id)
        if client is None:
            if side == "client":
                raise NotReadyYet("Your account is still being set up; try again in a moment.",
                                  headers={"Retry-After": "2"})
            raise UnknownClient("No client with this id.", errors={"client_id": ["No such client."]})
        return client

    def _thread(self, session: Session, thread_id: str, client_id: str | None, *, lock: bool = False) -> Thread:
        stmt = select(Thread).where(Thread.id == thread_id)
        if client_id is not None:
            stmt = stmt.where(Thread.client_id == client_id)  # another client's thread does not exist for them
        if lock:
            stmt = stmt.with_for_update()
        thread = session.scalars(stmt).first()
        if thread is None:
            raise ThreadNotFound("Thread not found.")
        return thread

    def _add_message(self, session: Session, thread: Thread, side: str, sender_id: str, body: str,
                     files: list[_Checked]) -> Message:
        now = self.ctx.clock()
        message = Message(id=new_id(), thread_id=thread.id, client_id=thread.client_id, sender_role=side,
                          sender_id=sender_id, sender_name=self._sender_name(session, side, sender_id), body=body,
                          sent_at=now)
        session.add(message)
        session.flush()
        for position, file in enumerate(files):
            attachment = Attachment(id=new_id(), message_id=message.id, position=position, client_id=thread.client_id,
                                    filename=file.filename, content_type=file.content_type, size_bytes=0, sha256="")
            session.add(attachment)
            session.flush()
            attachment.size_bytes, attachment.sha256 = self.ctx.store.write(session, attachment.id, file.filename,
                                                                            file.stream)
        thread.last_message_at = now
        session.flush()
        publish(session, "message.sent", {"message_id": message.id, "thread_id": thread.id,
                                          "client_id": thread.client_id, "sender_role": side,
                                          "has_attachments": bool(files)})
        return message

    def _sender_name(self, session: Session, side: str, sender_id: str) -> str:
        if side == "client":
            return client_name(session.get(Client, sender_id))
        return staff_name(session.get(StaffMember, sender_id), practice(session).practice_name)

    def _mark_read(self, session: Session, thread_id: str, side: str, *, through: int) -> None:
        session.execute(update(Message).where(Message.thread_id == thread_id, Message.sender_role == OTHER[side],
                                              Message.read_at.is_(None), Message.seq <= through)
                        .values(read_at=self.ctx.clock()))

    def _view(self, session: Session, thread: Thread, side: str) -> dict:
        messages = list(session.scalars(select(Message).where(Message.thread_id == thread.id)
                                        .order_by(Message.seq)))
        files: dict[str, list[dict]] = {}
        if messages:
            for a in session.scalars(select(Attachment).where(Attachment.message_id.in_([m.id for m in messages]))
                                     .order_by(Attachment.message_id, Attachment.position)):
                files.setdefault(a.message_id, []).append(_attachment_view(a))
        summary = self._summary(session, [thread], side)[0]
        return {**summary, "created_at": thread.created_at, "started_by": thread.started_by,
                "messages": [_message_view(m, files.get(m.id, [])) for m in messages]}

    def _message_view(self, session: Session, message: Message) -> dict:
        files = [_attachment_view(a) for a in session.scalars(
            select(Attachment).where(Attachment.message_id == message.id).order_by(Attachment.position))]
        return _message_view(message, files)

    def _summary(self, session: Session, threads: list[Thread], side: str) -> list[dict]:
        """List rows: each thread's unread count for `side`, and, for staff, the client's and assignee's names."""
        ids = [t.id for t in threads]
        unread = dict(session.execute(
            select(Message.thread_id, func.count()).where(Message.thread_id.in_(ids), Message.read_at.is_(None),
                                                          Message.sender_role == OTHER[side])
            .group_by(Message.thread_id)).all()) if ids else {}
        clients = {c.client_id: c for c in session.scalars(
            select(Client).where(Client.client_id.in_({t.client_id for t in threads})))} if side == "staff" else {}
        staff_ids = {t.assigned_staff_id for t in threads if t.assigned_staff_id}
        staff = {m.user_id: m for m in session.scalars(
            select(StaffMember).where(StaffMember.user_id.in_(staff_ids)))} if staff_ids else {}
        practice_name = practice(session).practice_name if staff_ids else ""
        rows = []
        for t in threads:
            row = {"id": t.id, "subject": t.subject, "last_message_at": t.last_message_at,
                   "unread_count": unread.get(t.id, 0)}
            if side == "staff":
                row["client"] = {"id": t.client_id, "name": client_name(clients.get(t.client_id))}
                row["assigned_to"] = ({"id": t.assigned_staff_id,
                                       "name": staff_name(staff.get(t.assigned_staff_id), practice_name)}
                                      if t.assigned_staff_id else None)
            rows.append(row)
        return rows


def _attachment_view(a: Attachment) -> dict:
    return {"id": a.id, "filename": a.filename, "content_type": a.content_type.split(";")[0],
            "size_bytes": a.size_bytes}


def _message_view(m: Message, files: list[dict]) -> dict:
    return {"id": m.id, "seq": m.seq, "thread_id": m.thread_id, "body": m.body, "sender_role": m.sender_role,
            "sender_name": m.sender_name, "sent_at": m.sent_at, "read_at": m.read_at, "attachments": files}
