from enum import StrEnum


class DryRunTransferViewCurrency(StrEnum):
    CAD = "CAD"
    EUR = "EUR"
    GBP = "GBP"
    JPY = "JPY"
    KRW = "KRW"
    USD = "USD"

    def __str__(self) -> str:
        return str(self.value)
