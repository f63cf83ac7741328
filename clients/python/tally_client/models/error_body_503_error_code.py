from enum import StrEnum


class ErrorBody503ErrorCode(StrEnum):
    UNAVAILABLE = "unavailable"

    def __str__(self) -> str:
        return str(self.value)
