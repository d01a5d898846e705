# SPDX-License-Identifier: Apache-2.0
"""The fixed answers the Support agent gives when it cannot answer normally.

None of them reveals why a request failed. The audit record contains the reason.
"""

from typing import Final

SIGN_IN_AGAIN: Final = "I can't confirm who you are. Please sign in again."
INVALID_SESSION: Final = "I can't continue this conversation. Please start a new one."
INVALID_PROMPT: Final = "Please send your question as text of at most 4,000 characters."
ACCOUNT_UNAVAILABLE: Final = "I can't access that account right now."
SERVICE_UNAVAILABLE: Final = "I can't reach your account information right now. Please try again in a few minutes."
MODEL_UNAVAILABLE: Final = "I can't answer right now. Please try again in a few minutes."
REQUEST_TOO_COMPLEX: Final = "I couldn't complete that request. Please ask one thing at a time."
NO_ANSWER: Final = "I don't have an answer to that. I can tell you your balance or your recent transactions."
INTERNAL_ERROR: Final = "Something went wrong on our side. Please try again in a few minutes."
