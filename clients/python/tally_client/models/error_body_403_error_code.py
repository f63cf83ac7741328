from enum import StrEnum


class ErrorBody403ErrorCode(StrEnum):
    FORBIDDEN = "forbidden"

    def __str__(self) -> str:
        return str(self.value)
