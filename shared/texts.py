"""What Sampark says to citizens, in Hindi and English.

Worded discreetly: a shared phone may be read by others, so no "police", "crime" or "informant".
"""

ACKNOWLEDGEMENT = (
    "धन्यवाद, आपका संदेश मिल गया है। संदर्भ संख्या: {reference}\n"
    "आपात स्थिति में 112 पर कॉल करें।\n"
    "\n"
    "Thank you, your message has been received. Reference: {reference}\n"
    "In an emergency, call 112."
)


def acknowledgement(reference: str) -> str:
    return ACKNOWLEDGEMENT.format(reference=reference)


# The only thing said in public (a reply to an X mention): no reference, nothing about what was reported.
DM_INVITATION = (
    "नमस्ते, कृपया हमें डायरेक्ट मैसेज (DM) भेजें। आपात स्थिति में 112 पर कॉल करें।\n"
    "Hello, please send us a direct message (DM). In an emergency, call 112."
)


def acknowledgement_for(reference: str, *, public: bool) -> str:
    return DM_INVITATION if public else acknowledgement(reference)


LIMIT_NOTICE = (
    "आपके संदेश मिल रहे हैं और सुरक्षित रखे जा रहे हैं। अगले एक घंटे तक हम हर संदेश का उत्तर नहीं देंगे। "
    "आपात स्थिति में 112 पर कॉल करें।\n"
    "\n"
    "Your messages are being received and kept. For the next hour we will not answer each one. "
    "In an emergency, call 112."
)

# Status names as a citizen should read them; statuses added later fall back to their own name.
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


def status_answer(reference: str, status: str | None) -> str:
    """The status of the sender's own tip, or the same "not found" for any other reference."""
    if status is None:
        return STATUS_NOT_FOUND
    status_hi, status_en = _STATUS_NAMES.get(status, (status, status))
    return STATUS_ANSWER.format(reference=reference, status_hi=status_hi, status_en=status_en)


FOLLOWUP = (
    "धनबाद पुलिस का प्रश्न (संदर्भ {reference}):\n"
    "{text}\n"
    "\n"
    "Question from Dhanbad Police (reference {reference}). Reply in this chat; your answer joins your tip."
)


def followup(reference: str, text: str) -> str:
    """An officer's question, framed so that the informant knows who asks and about which tip."""
    return FOLLOWUP.format(reference=reference, text=text)
