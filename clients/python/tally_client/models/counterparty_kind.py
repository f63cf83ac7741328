from enum import StrEnum


class CounterpartyKind(StrEnum):
    CUSTOMER = "customer"
    RESERVE = "reserve"

    def __str__(self) -> str:
        return str(self.value)
