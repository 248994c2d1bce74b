"""The templates a practice starts from, as template JSON: an intake questionnaire, a consent to treatment, a
release of information, and the Credit card information form of the intake paperwork (seed 004).

They are data, as the builder would send them: the practice copies one, edits its words (its name, its fees, its
state's rules) and saves it as its own template's version 1. The wording is plain and general; it is not legal
advice, and a practice checks it against its state's law and its licensing board."""

from __future__ import annotations

from services.documents.domain.templates import Template, parse_template

_SIGN_HELP = ("Type your full legal name to sign. You may also draw your signature; the typed name alone is a "
              "valid signature.")


def _yes_no(key: str, label: str, follow_up: dict | None = None, *, required: bool = True, help: str = "") -> dict:
    field = {"key": key, "type": "yesno", "label": label, "help": help, "required": required}
    if follow_up is not None:
        field["follow_up"] = follow_up
    return field


def _choices(*pairs: tuple[str, str]) -> list[dict]:
    return [{"value": value, "label": label} for value, label in pairs]


INTAKE_QUESTIONNAIRE: dict = {
    "title": "Intake questionnaire",
    "description": (
        "Thank you for choosing our practice. These questions help your clinician understand what brings you here "
        "and prepare for your first session. Answer what you are comfortable sharing; you can talk through anything "
        "in more detail in person. Your answers are confidential and become part of your clinical record.\n\n"
        "If you are in crisis or thinking about harming yourself, do not wait for your appointment: call or text "
        "988 (Suicide & Crisis Lifeline), call 911, or go to the nearest emergency room."),
    "sections": [
        {"title": "About you", "help": "", "fields": [
            {"key": "legal_name", "type": "text", "label": "Full legal name", "required": True},
            {"key": "preferred_name", "type": "text", "label": "Name you would like us to use",
             "help": "If different from your legal name."},
            {"key": "pronouns", "type": "text", "label": "Pronouns", "max_length": 50},
            {"key": "date_of_birth", "type": "date", "label": "Date of birth", "required": True},
            {"key": "phone", "type": "text", "label": "Best phone number", "required": True, "max_length": 30},
            {"key": "email", "type": "text", "label": "E-mail address", "max_length": 254},
            {"key": "address", "type": "textarea", "label": "Home address", "max_length": 500},
            {"key": "contact_preference", "type": "choice", "label": "How should we contact you?",
             "required": True, "choices": _choices(("phone", "Phone call"), ("text", "Text message"),
                                                   ("email", "E-mail"), ("portal", "Portal message"))},
            _yes_no("ok_to_leave_message", "May we leave a message that says it is from this practice?"),
        ]},
        {"title": "Emergency contact", "help": "Someone we may call if we are worried about your safety.",
         "fields": [
             {"key": "emergency_name", "type": "text", "label": "Name", "required": True},
             {"key": "emergency_relationship", "type": "text", "label": "Relationship to you",
              "required": True, "max_length": 100},
             {"key": "emergency_phone", "type": "text", "label": "Phone number", "required": True,
              "max_length": 30},
         ]},
        {"title": "What brings you here", "help": "", "fields": [
            {"key": "presenting_concerns", "type": "textarea", "required": True,
             "label": "In your own words, what would you like help with?"},
            {"key": "concern_duration", "type": "choice", "label": "How long has this been going on?",
             "choices": _choices(("under_1_month", "Less than a month"), ("1_6_months", "1 to 6 months"),
                                 ("6_12_months", "6 to 12 months"), ("over_1_year", "More than a year"))},
            {"key": "concern_areas", "type": "multichoice", "label": "Which of these affect you now?",
             "help": "Tick all that apply.",
             "choices": _choices(("anxiety", "Anxiety or worry"), ("low_mood", "Low mood or depression"),
                                 ("stress", "Stress"), ("relationships", "Relationships or family"),
                                 ("grief", "Grief or loss"), ("trauma", "Trauma"), ("sleep", "Sleep"),
                                 ("substance_use", "Alcohol or drug use"), ("anger", "Anger"),
                                 ("self_esteem", "Self-esteem"), ("work_school", "Work or school"),
                                 ("eating", "Eating or body image"))},
            {"key": "distress_rating", "type": "number", "integer": True, "min": 0, "max": 10,
             "label": "Over the past two weeks, how much distress have you felt?",
             "help": "0 is none at all, 10 is the most you can imagine."},
            {"key": "goals", "type": "textarea", "label": "What would you like to be different after therapy?"},
        ]},
        {"title": "Your history", "help": "", "fields": [
            _yes_no("previous_therapy", "Have you seen a counselor, therapist or psychiatrist before?",
                    {"key": "previous_therapy_details", "type": "textarea", "required": True,
                     "label": "When, with whom, and what did or did not help?"}),
            _yes_no("hospitalized", "Have you ever been hospitalized for your mental health?",
                    {"key": "hospitalized_details", "type": "textarea", "label": "When, and for what?"}),
            {"key": "medical_conditions", "type": "textarea",
             "label": "Medical conditions, injuries or disabilities we should know about"},
            {"key": "primary_care", "type": "text", "label": "Primary care provider (name and practice)"},
            {"key": "family_history", "type": "textarea",
             "label": "Mental health or substance use concerns in your family"},
        ]},
        {"title": "Medications", "help": "", "fields": [
            _yes_no("takes_medication", "Do you take any prescription or over-the-counter medications?",
                    {"key": "medication_list", "type": "textarea", "required": True,
                     "label": "List each medication, its dose, and who prescribes it."}),
            _yes_no("has_allergies", "Do you have any allergies to medications?",
                    {"key": "allergy_list", "type": "textarea", "required": True,
                     "label": "Which medications, and what happens?"}),
        ]},
        {"title": "Safety and substance use",
         "help": ("We ask everyone these questions. Answering yes will not on its own change your care; it helps "
                  "your clinician keep you safe. If you are in danger now, call or text 988 or call 911."),
         "fields": [
             _yes_no("self_harm_thoughts", "In the past month, have you had thoughts of ending your life or "
                     "harming yourself?",
                     {"key": "self_harm_details", "type": "textarea",
                      "label": "If you are comfortable, tell us more (how often, and whether you have a plan)."}),
             _yes_no("alcohol_drug_use", "Do you drink alcohol or use recreational drugs?",
                     {"key": "alcohol_drug_details", "type": "textarea",
                      "label": "What, how much and how often?"}),
         ]},
        {"title": "Signature", "help": "", "fields": [
            {"key": "intake_signature", "type": "signature", "help": _SIGN_HELP,
             "label": "I confirm that the information I have given is true and complete to the best of my "
                      "knowledge."},
        ]},
    ],
}

CONSENT_TEXT = """\
Therapy is a collaboration between you and your clinician. Sessions usually last 50 minutes. Therapy can help \
with the concerns that brought you here, but it can also bring up uncomfortable feelings or memories, and no \
particular result can be promised. You may ask questions about your treatment at any time, and you may end therapy \
whenever you choose.

What you say in therapy is confidential, and we will not share it without your written permission, except where \
the law requires or allows it: when there is a serious risk that you will harm yourself or someone else; when we \
suspect the abuse or neglect of a child, an older adult or a dependent adult; when a court orders us to release \
records; and, with only the information needed, to process insurance claims you ask us to submit. Your clinician \
may consult other clinicians about your care without giving your name.

Your clinician is not available around the clock. Between sessions, contact the practice by phone or by a portal \
message; messages are read during office hours. In an emergency, call 911 or go to the nearest emergency room, or \
call or text 988 (Suicide & Crisis Lifeline).

Please give at least 24 hours' notice to cancel or reschedule. Late cancellations and missed appointments may be \
charged the fee described in the practice's payment policy, which insurance does not cover.

You may ask to see or receive a copy of your records. The practice keeps records as state law requires.\
"""

CONSENT_TO_TREATMENT: dict = {
    "title": "Consent to treatment",
    "description": "Please read this consent carefully. Ask your clinician about anything that is unclear before "
                   "you sign.",
    "sections": [
        {"title": "About therapy at this practice", "help": CONSENT_TEXT, "fields": [
            {"key": "ack_read", "type": "checkbox", "required": True,
             "label": "I have read this consent to treatment and have had the chance to ask questions."},
            {"key": "ack_confidentiality", "type": "checkbox", "required": True,
             "label": "I understand the limits of confidentiality described above."},
            {"key": "ack_emergencies", "type": "checkbox", "required": True,
             "label": "I understand that my clinician is not available for emergencies and what to do in one."},
            {"key": "ack_cancellation", "type": "checkbox", "required": True,
             "label": "I understand the cancellation policy and that missed appointments may be charged."},
            {"key": "ack_consent", "type": "checkbox", "required": True,
             "label": "I consent to receive therapy services from this practice, and I know I may withdraw this "
                      "consent at any time."},
        ]},
        {"title": "Signature", "help": "", "fields": [
            {"key": "consent_signature", "type": "signature", "help": _SIGN_HELP,
             "label": "I agree to the terms of this consent to treatment."},
        ]},
    ],
}

RELEASE_OF_INFORMATION: dict = {
    "title": "Authorization to release information",
    "description": (
        "This form lets the practice share information about your care with a person or organization you "
        "choose.\n\n"
        "You do not have to sign it: your treatment, payment or eligibility for benefits do not depend on whether "
        "you do. You may revoke this authorization at any time by telling the practice in writing; revoking does "
        "not undo what was already shared while it was in effect. Information shared with someone who is not bound "
        "by federal privacy law could be shared again by them and may no longer be protected. You may ask for a "
        "copy of this form."),
    "sections": [
        {"title": "Who we may share with", "help": "", "fields": [
            {"key": "recipient_name", "type": "text", "required": True,
             "label": "Name of the person or organization"},
            {"key": "recipient_role", "type": "text", "label": "Their relationship to you or role",
             "help": "For example: primary care doctor, psychiatrist, school counselor, spouse, attorney."},
            {"key": "recipient_contact", "type": "textarea", "required": True, "max_length": 1000,
             "label": "Address, phone, fax or e-mail we should use"},
            {"key": "direction", "type": "choice", "required": True, "label": "The practice may",
             "choices": _choices(("release", "Release information to them"),
                                 ("obtain", "Obtain information from them"),
                                 ("exchange", "Both release to and obtain from them"))},
        ]},
        {"title": "What we may share", "help": "", "fields": [
            {"key": "information", "type": "multichoice", "required": True,
             "label": "Information that may be shared", "help": "Tick all that apply.",
             "choices": _choices(("attendance", "Dates of attendance"), ("diagnosis", "Diagnosis"),
                                 ("treatment_plan", "Treatment plan and progress"),
                                 ("assessments", "Assessment and testing results"),
                                 ("medications", "Medications"), ("discharge_summary", "Discharge summary"),
                                 ("records", "The full clinical record, except psychotherapy notes"))},
            {"key": "information_other", "type": "textarea", "max_length": 1000,
             "label": "Anything else, or anything to leave out"},
            _yes_no("includes_substance_use", "Does this include substance use disorder treatment records?",
                    help="These records have extra federal protection (42 CFR Part 2) and are shared only if you "
                         "answer yes."),
        ]},
        {"title": "Why, and for how long", "help": "", "fields": [
            {"key": "purpose", "type": "choice", "required": True, "label": "Purpose of the disclosure",
             "choices": _choices(("coordination", "Coordination of care"), ("at_my_request", "At my request"),
                                 ("legal", "Legal matter"), ("school_work", "School or work"),
                                 ("insurance", "Insurance or benefits"), ("other", "Other"))},
            {"key": "purpose_other", "type": "text", "label": "If other, please describe"},
            {"key": "expires_on", "type": "date", "required": True, "label": "This authorization expires on",
             "help": "Choose a date. It ends sooner if you revoke it in writing."},
        ]},
        {"title": "Signature", "help": "", "fields": [
            {"key": "release_signature", "type": "signature", "help": _SIGN_HELP,
             "label": "I authorize this release of information as described above."},
        ]},
    ],
}

CREDIT_CARD_INFORMATION: dict = {
    "title": "Credit card information",
    "description": (
        "To pay for your appointments through the client portal, please keep a credit or debit card on file. "
        "Enter your card details and choose Save Credit Card. Your card won't be charged when you submit this "
        "form.\n\n"
        "Your card details go straight to our card processor; the practice keeps only the card's brand, last four "
        "digits and expiry date. You can add another card at any time in Billing & Payments > Payment Methods. To "
        "edit or remove a card on file, contact the practice."),
    "sections": [
        {"title": "Your card", "help": "", "fields": [
            {"key": "card", "type": "card_on_file", "required": True, "label": "Card details",
             "help": "Card number, expiry date, security code and billing postal code."},
            {"key": "card_authorization", "type": "checkbox", "required": True,
             "label": "I authorize the practice to keep this card on file and to charge it for services, and for "
                      "late cancellation or missed appointment fees under the practice's payment policy."},
        ]},
        {"title": "Signature", "help": "", "fields": [
            {"key": "card_signature", "type": "signature", "help": _SIGN_HELP,
             "label": "I am the cardholder, or I am authorized to use this card."},
        ]},
    ],
}

# slug -> template JSON, in the order the builder offers them
STARTER_TEMPLATES: dict[str, dict] = {
    "intake_questionnaire": INTAKE_QUESTIONNAIRE,
    "consent_to_treatment": CONSENT_TO_TREATMENT,
    "release_of_information": RELEASE_OF_INFORMATION,
    "credit_card_information": CREDIT_CARD_INFORMATION,
}


def starter_template(slug: str) -> Template:
    """A starter as a Template (version 1): KeyError for a slug there is none of."""
    return parse_template(STARTER_TEMPLATES[slug])
