"""What Sampark says to citizens, in Hindi and English.

Worded discreetly: a shared phone may be read by others, so no "police", "crime" or "informant". Each reply names the
purpose of its SMS template too (tools/demo-dlt-templates.json): SMS sends that registered template, never this text.
"""

from shared.domain import OutgoingReply

ACKNOWLEDGEMENT = (
    "धन्यवाद, आपका संदेश मिल गया है। संदर्भ संख्या: {reference}\n"
    "आपात स्थिति में 112 पर कॉल करें।\n"
    "\n"
    "Thank you, your message has been received. Reference: {reference}\n"
    "In an emergency, call 112."
)


def acknowledgement(reference: str) -> OutgoingReply:
    return OutgoingReply(
        purpose="acknowledgement",
        text=ACKNOWLEDGEMENT.format(reference=reference),
        values=(("reference", reference),),
    )


# The only thing said in public (a reply to an X mention): no reference, nothing about what was reported.
DM_INVITATION = (
    "नमस्ते, कृपया हमें डायरेक्ट मैसेज (DM) भेजें। आपात स्थिति में 112 पर कॉल करें।\n"
    "Hello, please send us a direct message (DM). In an emergency, call 112."
)


def acknowledgement_for(reference: str, *, public: bool) -> OutgoingReply:
    # Only X mentions are public, so the invitation has no SMS template.
    return OutgoingReply(purpose="dm_invitation", text=DM_INVITATION) if public else acknowledgement(reference)


LIMIT_NOTICE = (
    "आपके संदेश मिल रहे हैं और सुरक्षित रखे जा रहे हैं। अगले एक घंटे तक हम हर संदेश का उत्तर नहीं देंगे। "
    "आपात स्थिति में 112 पर कॉल करें।\n"
    "\n"
    "Your messages are being received and kept. For the next hour we will not answer each one. "
    "In an emergency, call 112."
)


def limit_notice() -> OutgoingReply:
    return OutgoingReply(purpose="limit_notice", text=LIMIT_NOTICE)


# Status names as a citizen should read them; statuses added later fall back to their own name. Each fits the
# 30 characters of a DLT variable (the status template's status_hi and status_en).
_STATUS_NAMES = {
    "new": ("प्राप्त हुआ, समीक्षा बाकी है", "received, awaiting review"),
    "in_review": ("समीक्षा की जा रही है", "under review"),
    "actioned": ("इस पर कार्रवाई की गई है", "action has been taken"),
    "closed": ("बंद कर दी गई है", "closed"),
    # An informant is never told their message was judged spam: that could provoke or inform a bad actor.
    "spam": ("बंद कर दी गई है", "closed"),
}

STATUS_ANSWER = "संदर्भ संख्या {reference}: {status_hi}\n\nReference {reference}: {status_en}"
STATUS_NOT_FOUND = (
    "यह संदर्भ संख्या नहीं मिली। कृपया उसी ऐप से पूछें जिससे आपने संदेश भेजा था।\n"
    "\n"
    "This reference was not found. Please ask from the same app you wrote from."
)


def status_answer(reference: str, status: str | None) -> OutgoingReply:
    """The status of the sender's own tip, or the same "not found" for any other reference."""
    if status is None:
        return OutgoingReply(purpose="status_not_found", text=STATUS_NOT_FOUND)
    status_hi, status_en = _STATUS_NAMES.get(status, (status, status))
    return OutgoingReply(
        purpose="status",
        text=STATUS_ANSWER.format(reference=reference, status_hi=status_hi, status_en=status_en),
        values=(("reference", reference), ("status_hi", status_hi), ("status_en", status_en)),
    )


FOLLOWUP = (
    "धनबाद पुलिस का प्रश्न (संदर्भ {reference}):\n"
    "{text}\n"
    "\n"
    "Question from Dhanbad Police (reference {reference}). Reply in this chat; your answer joins your tip."
)
# The SMS template and variable an officer's question fills: its length and characters are checked when the
# question is asked (shared/triage.py), not when it is sent.
FOLLOWUP_PURPOSE, FOLLOWUP_QUESTION = "followup", "question"


def followup(reference: str, text: str) -> OutgoingReply:
    """An officer's question, framed so that the informant knows who asks and about which tip."""
    return OutgoingReply(
        purpose=FOLLOWUP_PURPOSE,
        text=FOLLOWUP.format(reference=reference, text=text),
        values=(("reference", reference), (FOLLOWUP_QUESTION, text)),
    )


# Answers to STOP and SUBSCRIBE <area> in a chat (shared/recording.py). Alerts go by SMS to the number written from.
_SUBSCRIPTION_TEXTS = {
    "subscribed": (
        "{area_hi} क्षेत्र के धनबाद पुलिस अलर्ट इस नंबर पर SMS से आएँगे। बंद करने के लिए STOP भेजें।\n"
        "You will get Dhanbad Police alerts for {area_en} by SMS on this number. Send STOP to leave."
    ),
    "unsubscribed": "अब आपको धनबाद पुलिस के अलर्ट नहीं मिलेंगे।\nYou will get no more Dhanbad Police alerts.",
    "subscribe_help": (
        "अलर्ट के लिए अपना थाना क्षेत्र भेजें, जैसे: सदस्यता धनबाद\nFor alerts, send your police area, e.g. SUBSCRIBE Dhanbad"
    ),
    "subscribe_link": (
        "पुलिस अलर्ट SMS या ईमेल पर पाने के लिए यहाँ नाम लिखवाएँ: {link}\n"
        "To get police alerts by SMS or email, sign up here: {link}"
    ),
    "subscribe_elsewhere": (
        "पुलिस अलर्ट के लिए अपने फ़ोन से WhatsApp या SMS पर भेजें: SUBSCRIBE <थाना क्षेत्र>\n"
        "For police alerts, send SUBSCRIBE <police area> by WhatsApp or SMS from your phone."
    ),
}


def subscription_reply(purpose: str, values: dict[str, str]) -> OutgoingReply:
    """The answer to a chat command; "subscribe_link" names the sign-up page (SUBSCRIBE_PAGE_URL) if there is one."""
    if purpose == "subscribe_link" and not values.get("link"):
        purpose = "subscribe_elsewhere"
    return OutgoingReply(
        purpose=purpose,
        text=_SUBSCRIPTION_TEXTS[purpose].format(**values),
        values=tuple(sorted((name, value) for name, value in values.items() if name != "link")),
    )
