from enum import StrEnum


class ErrorBody422ErrorCode(StrEnum):
    BALANCE_OVERFLOW = "balance_overflow"
    CURRENCY_MISMATCH = "currency_mismatch"
    INSUFFICIENT_FUNDS = "insufficient_funds"

    def __str__(self) -> str:
        return str(self.value)
