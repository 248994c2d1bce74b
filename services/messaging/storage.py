"""Where attachments' bytes live, behind one small interface (AttachmentStore): written inside the message's own
transaction, so a file and its message commit together (never a message pointing at a missing file, never a file
no message owns), and read back as a stream of chunks (a 10 MB file never sits whole in memory).

PostgresStore (the one built): the bytes in 1 MiB rows of `attachment_chunks`, in messaging's database, so the
backups, the encryption at rest and the access rules of the messages cover their files too. At the suite's limits
(10 MB a file, 5 a message) a practice of a few thousand clients stays in the tens of GB. The production option
past that is an S3-compatible object store (written before the commit, under a key the row names; an orphan
sweep removes objects no committed row names): a second implementation of the same three methods."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import BinaryIO, Protocol

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from services.messaging.domain.messages import check_size
from services.messaging.models import AttachmentChunk

CHUNK_BYTES = 1024 * 1024


class AttachmentStore(Protocol):
    def write(self, session: Session, attachment_id: str, filename: str, stream: BinaryIO) -> tuple[int, str]:
        """Stores the stream's bytes in the caller's transaction; answers (size in bytes, SHA-256 hex)."""

    def chunks(self, attachment_id: str) -> Iterator[bytes]:
        """The stored bytes, a chunk at a time."""


class PostgresStore:
    def __init__(self, sessions: sessionmaker[Session], chunk_bytes: int = CHUNK_BYTES):
        self.sessions = sessions  # for reads: one short statement per chunk, no transaction held while streaming
        self.chunk_bytes = chunk_bytes

    def write(self, session: Session, attachment_id: str, filename: str, stream: BinaryIO) -> tuple[int, str]:
        digest, size, seq = hashlib.sha256(), 0, 0
        while True:
            chunk = stream.read(self.chunk_bytes)
            if not chunk:
                break
            size += len(chunk)
            check_size(filename, size)  # counted as it arrives: a client's claimed length is not believed
            digest.update(chunk)
            session.execute(insert(AttachmentChunk).values(attachment_id=attachment_id, seq=seq, data=chunk))
            seq += 1
        return size, digest.hexdigest()

    def chunks(self, attachment_id: str) -> Iterator[bytes]:
        seq = 0
        while True:
            with self.sessions() as session:
                data = session.scalars(select(AttachmentChunk.data).where(
                    AttachmentChunk.attachment_id == attachment_id, AttachmentChunk.seq == seq)).first()
            if data is None:
                return
            yield bytes(data)
            seq += 1
