from enum import StrEnum


class ErrorBody409ErrorCode(StrEnum):
    ACCOUNT_CLOSED = "account_closed"
    ACCOUNT_FROZEN = "account_frozen"
    ACCOUNT_NOT_EMPTY = "account_not_empty"
    CONFLICT = "conflict"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    TOO_MANY_HOLDS = "too_many_holds"
    TRANSFER_NOT_PENDING = "transfer_not_pending"

    def __str__(self) -> str:
        return str(self.value)
