from enum import StrEnum


class ErrorDetailCode(StrEnum):
    ACCOUNT_CLOSED = "account_closed"
    ACCOUNT_FROZEN = "account_frozen"
    ACCOUNT_NOT_EMPTY = "account_not_empty"
    BALANCE_OVERFLOW = "balance_overflow"
    CONFLICT = "conflict"
    CURRENCY_MISMATCH = "currency_mismatch"
    DUPLICATE_REFERENCE = "duplicate_reference"
    FORBIDDEN = "forbidden"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    INTERNAL = "internal"
    INVALID_CREDENTIALS = "invalid_credentials"
    INVALID_JSON = "invalid_json"
    NOT_FOUND = "not_found"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    RATE_LIMITED = "rate_limited"
    REQUEST_TIMEOUT = "request_timeout"
    REVERSAL_EXCEEDS_ORIGINAL = "reversal_exceeds_original"
    SAME_ACCOUNT = "same_account"
    TOKEN_EXPIRED = "token_expired"
    TOO_MANY_HOLDS = "too_many_holds"
    TRANSFER_NOT_PENDING = "transfer_not_pending"
    TRANSFER_NOT_POSTED = "transfer_not_posted"
    UNAUTHENTICATED = "unauthenticated"
    UNAVAILABLE = "unavailable"
    VALIDATION_FAILED = "validation_failed"

    def __str__(self) -> str:
        return str(self.value)
