"""Documents' domain errors: plain exceptions that know nothing of HTTP (api/errors.py will map each to its answer).

Each carries the sentence a person reads and, for what the caller fixes, `errors` (path or question key ->
messages): a template's errors are named by their path in it ("sections.1.fields.0.type"), answers' by the
question's key ("date_of_birth", "consent_signature.typed_name")."""

from __future__ import annotations

from shared.domain import DomainError


class DocumentsError(DomainError):
    """A refusal of one of documents' use cases."""


class TemplateInvalid(DocumentsError):
    """A form template the builder cannot keep: an unknown field type, a duplicate key, a missing label, empty or
    repeated choices, too many sections or questions, an option on a type that has no such option."""


class AnswersInvalid(DocumentsError):
    """Answers for questions the form does not have, of the wrong type or too long; on submission, a required
    question unanswered or the signature incomplete."""


class FormNotEditable(DocumentsError):
    """The form was submitted (its answers are final) or withdrawn by the practice: nothing more is saved."""
