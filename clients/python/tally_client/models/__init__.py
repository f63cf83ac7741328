"""Contains all the data models used in inputs/outputs"""

from .account_view import AccountView
from .account_view_currency import AccountViewCurrency
from .account_view_status import AccountViewStatus
from .amount_request import AmountRequest
from .balance_at_view import BalanceAtView
from .balance_at_view_currency import BalanceAtViewCurrency
from .batch_item_result import BatchItemResult
from .batch_request import BatchRequest
from .batch_result import BatchResult
from .create_account_request import CreateAccountRequest
from .create_account_request_currency import CreateAccountRequestCurrency
from .create_transfer_request import CreateTransferRequest
from .create_transfer_request_currency import CreateTransferRequestCurrency
from .create_transfer_request_metadata_type_0 import CreateTransferRequestMetadataType0
from .create_user_request import CreateUserRequest
from .create_webhook_request import CreateWebhookRequest
from .created_webhook import CreatedWebhook
from .entry_view import EntryView
from .error_body import ErrorBody
from .error_body_400 import ErrorBody400
from .error_body_400_error import ErrorBody400Error
from .error_body_400_error_code import ErrorBody400ErrorCode
from .error_body_401 import ErrorBody401
from .error_body_401_error import ErrorBody401Error
from .error_body_401_error_code import ErrorBody401ErrorCode
from .error_body_403 import ErrorBody403
from .error_body_403_error import ErrorBody403Error
from .error_body_403_error_code import ErrorBody403ErrorCode
from .error_body_404 import ErrorBody404
from .error_body_404_error import ErrorBody404Error
from .error_body_404_error_code import ErrorBody404ErrorCode
from .error_body_408 import ErrorBody408
from .error_body_408_error import ErrorBody408Error
from .error_body_408_error_code import ErrorBody408ErrorCode
from .error_body_409 import ErrorBody409
from .error_body_409_error import ErrorBody409Error
from .error_body_409_error_code import ErrorBody409ErrorCode
from .error_body_413 import ErrorBody413
from .error_body_413_error import ErrorBody413Error
from .error_body_413_error_code import ErrorBody413ErrorCode
from .error_body_422 import ErrorBody422
from .error_body_422_error import ErrorBody422Error
from .error_body_422_error_code import ErrorBody422ErrorCode
from .error_body_429 import ErrorBody429
from .error_body_429_error import ErrorBody429Error
from .error_body_429_error_code import ErrorBody429ErrorCode
from .error_body_500 import ErrorBody500
from .error_body_500_error import ErrorBody500Error
from .error_body_500_error_code import ErrorBody500ErrorCode
from .error_body_503 import ErrorBody503
from .error_body_503_error import ErrorBody503Error
from .error_body_503_error_code import ErrorBody503ErrorCode
from .error_detail import ErrorDetail
from .error_detail_code import ErrorDetailCode
from .event_view import EventView
from .events_page import EventsPage
from .limits_request import LimitsRequest
from .list_transfers_status import ListTransfersStatus
from .login_request import LoginRequest
from .login_response import LoginResponse
from .movement_result import MovementResult
from .pending_result import PendingResult
from .post_request import PostRequest
from .renew_access_request import RenewAccessRequest
from .renew_access_response import RenewAccessResponse
from .reverse_request import ReverseRequest
from .role import Role
from .search_transfers_status import SearchTransfersStatus
from .transfer_event_data import TransferEventData
from .transfer_page import TransferPage
from .transfer_result import TransferResult
from .transfer_view import TransferView
from .transfer_view_currency import TransferViewCurrency
from .transfer_view_metadata_type_0 import TransferViewMetadataType0
from .transfer_view_status import TransferViewStatus
from .user import User
from .webhook_view import WebhookView

__all__ = (
    "AccountView",
    "AccountViewCurrency",
    "AccountViewStatus",
    "AmountRequest",
    "BalanceAtView",
    "BalanceAtViewCurrency",
    "BatchItemResult",
    "BatchRequest",
    "BatchResult",
    "CreateAccountRequest",
    "CreateAccountRequestCurrency",
    "CreateTransferRequest",
    "CreateTransferRequestCurrency",
    "CreateTransferRequestMetadataType0",
    "CreateUserRequest",
    "CreateWebhookRequest",
    "CreatedWebhook",
    "EntryView",
    "ErrorBody",
    "ErrorBody400",
    "ErrorBody400Error",
    "ErrorBody400ErrorCode",
    "ErrorBody401",
    "ErrorBody401Error",
    "ErrorBody401ErrorCode",
    "ErrorBody403",
    "ErrorBody403Error",
    "ErrorBody403ErrorCode",
    "ErrorBody404",
    "ErrorBody404Error",
    "ErrorBody404ErrorCode",
    "ErrorBody408",
    "ErrorBody408Error",
    "ErrorBody408ErrorCode",
    "ErrorBody409",
    "ErrorBody409Error",
    "ErrorBody409ErrorCode",
    "ErrorBody413",
    "ErrorBody413Error",
    "ErrorBody413ErrorCode",
    "ErrorBody422",
    "ErrorBody422Error",
    "ErrorBody422ErrorCode",
    "ErrorBody429",
    "ErrorBody429Error",
    "ErrorBody429ErrorCode",
    "ErrorBody500",
    "ErrorBody500Error",
    "ErrorBody500ErrorCode",
    "ErrorBody503",
    "ErrorBody503Error",
    "ErrorBody503ErrorCode",
    "ErrorDetail",
    "ErrorDetailCode",
    "EventView",
    "EventsPage",
    "LimitsRequest",
    "ListTransfersStatus",
    "LoginRequest",
    "LoginResponse",
    "MovementResult",
    "PendingResult",
    "PostRequest",
    "RenewAccessRequest",
    "RenewAccessResponse",
    "ReverseRequest",
    "Role",
    "SearchTransfersStatus",
    "TransferEventData",
    "TransferPage",
    "TransferResult",
    "TransferView",
    "TransferViewCurrency",
    "TransferViewMetadataType0",
    "TransferViewStatus",
    "User",
    "WebhookView",
)
