from enum import StrEnum


class ErrorBody400ErrorCode(StrEnum):
    INVALID_JSON = "invalid_json"
    SAME_ACCOUNT = "same_account"
    VALIDATION_FAILED = "validation_failed"

    def __str__(self) -> str:
        return str(self.value)
