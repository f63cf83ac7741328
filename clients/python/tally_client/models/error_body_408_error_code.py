from enum import StrEnum


class ErrorBody408ErrorCode(StrEnum):
    REQUEST_TIMEOUT = "request_timeout"

    def __str__(self) -> str:
        return str(self.value)
