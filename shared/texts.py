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
