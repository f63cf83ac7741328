from enum import StrEnum


class ErrorBody409ErrorCode(StrEnum):
    ACCOUNT_CLOSED = "account_closed"
    ACCOUNT_FROZEN = "account_frozen"
    ACCOUNT_NOT_EMPTY = "account_not_empty"
    CONFLICT = "conflict"
    DUPLICATE_REFERENCE = "duplicate_reference"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    REVERSAL_EXCEEDS_ORIGINAL = "reversal_exceeds_original"
    TOO_MANY_HOLDS = "too_many_holds"
    TRANSFER_NOT_PENDING = "transfer_not_pending"
    TRANSFER_NOT_POSTED = "transfer_not_posted"

    def __str__(self) -> str:
        return str(self.value)
