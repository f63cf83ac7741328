from enum import StrEnum


class ErrorBody500ErrorCode(StrEnum):
    INTERNAL = "internal"

    def __str__(self) -> str:
        return str(self.value)
