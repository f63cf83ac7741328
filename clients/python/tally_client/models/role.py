from enum import StrEnum


class Role(StrEnum):
    BANKER = "banker"
    DEPOSITOR = "depositor"

    def __str__(self) -> str:
        return str(self.value)
