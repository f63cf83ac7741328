from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body_400 import ErrorBody400
from ...models.error_body_401 import ErrorBody401
from ...models.error_body_403 import ErrorBody403
from ...models.error_body_404 import ErrorBody404
from ...models.error_body_409 import ErrorBody409
from ...models.error_body_413 import ErrorBody413
from ...models.error_body_422 import ErrorBody422
from ...models.error_body_503 import ErrorBody503
from ...models.reverse_request import ReverseRequest
from ...models.transfer_result import TransferResult
from ...types import UNSET, Response, Unset


def _get_kwargs(
    id: int,
    *,
    body: None | ReverseRequest | Unset = UNSET,
    idempotency_key: str,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/transfers/{id}/reverse".format(
            id=quote(str(id), safe=""),
        ),
    }

    if isinstance(body, ReverseRequest):
        _kwargs["json"] = body.to_dict()
    else:
        _kwargs["json"] = body

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> (
    ErrorBody400
    | ErrorBody401
    | ErrorBody403
    | ErrorBody404
    | ErrorBody409
    | ErrorBody413
    | ErrorBody422
    | ErrorBody503
    | TransferResult
    | None
):
    if response.status_code == 201:
        response_201 = TransferResult.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = ErrorBody400.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody401.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody403.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = ErrorBody404.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = ErrorBody409.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = ErrorBody413.from_dict(response.json())

        return response_413

    if response.status_code == 422:
        response_422 = ErrorBody422.from_dict(response.json())

        return response_422

    if response.status_code == 503:
        response_503 = ErrorBody503.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[
    ErrorBody400
    | ErrorBody401
    | ErrorBody403
    | ErrorBody404
    | ErrorBody409
    | ErrorBody413
    | ErrorBody422
    | ErrorBody503
    | TransferResult
]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    id: int,
    *,
    client: AuthenticatedClient,
    body: None | ReverseRequest | Unset = UNSET,
    idempotency_key: str,
) -> Response[
    ErrorBody400
    | ErrorBody401
    | ErrorBody403
    | ErrorBody404
    | ErrorBody409
    | ErrorBody413
    | ErrorBody422
    | ErrorBody503
    | TransferResult
]:
    """Refund a posted transfer: a new posted transfer from its payee back to its payer
    (`reversal_of`); the original's `reversed_amount` grows by it and never passes its amount.

    Args:
        id (int):
        idempotency_key (str):
        body (None | ReverseRequest | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody400 | ErrorBody401 | ErrorBody403 | ErrorBody404 | ErrorBody409 | ErrorBody413 | ErrorBody422 | ErrorBody503 | TransferResult]
    """

    kwargs = _get_kwargs(
        id=id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: int,
    *,
    client: AuthenticatedClient,
    body: None | ReverseRequest | Unset = UNSET,
    idempotency_key: str,
) -> (
    ErrorBody400
    | ErrorBody401
    | ErrorBody403
    | ErrorBody404
    | ErrorBody409
    | ErrorBody413
    | ErrorBody422
    | ErrorBody503
    | TransferResult
    | None
):
    """Refund a posted transfer: a new posted transfer from its payee back to its payer
    (`reversal_of`); the original's `reversed_amount` grows by it and never passes its amount.

    Args:
        id (int):
        idempotency_key (str):
        body (None | ReverseRequest | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody400 | ErrorBody401 | ErrorBody403 | ErrorBody404 | ErrorBody409 | ErrorBody413 | ErrorBody422 | ErrorBody503 | TransferResult
    """

    return sync_detailed(
        id=id,
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    id: int,
    *,
    client: AuthenticatedClient,
    body: None | ReverseRequest | Unset = UNSET,
    idempotency_key: str,
) -> Response[
    ErrorBody400
    | ErrorBody401
    | ErrorBody403
    | ErrorBody404
    | ErrorBody409
    | ErrorBody413
    | ErrorBody422
    | ErrorBody503
    | TransferResult
]:
    """Refund a posted transfer: a new posted transfer from its payee back to its payer
    (`reversal_of`); the original's `reversed_amount` grows by it and never passes its amount.

    Args:
        id (int):
        idempotency_key (str):
        body (None | ReverseRequest | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody400 | ErrorBody401 | ErrorBody403 | ErrorBody404 | ErrorBody409 | ErrorBody413 | ErrorBody422 | ErrorBody503 | TransferResult]
    """

    kwargs = _get_kwargs(
        id=id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: int,
    *,
    client: AuthenticatedClient,
    body: None | ReverseRequest | Unset = UNSET,
    idempotency_key: str,
) -> (
    ErrorBody400
    | ErrorBody401
    | ErrorBody403
    | ErrorBody404
    | ErrorBody409
    | ErrorBody413
    | ErrorBody422
    | ErrorBody503
    | TransferResult
    | None
):
    """Refund a posted transfer: a new posted transfer from its payee back to its payer
    (`reversal_of`); the original's `reversed_amount` grows by it and never passes its amount.

    Args:
        id (int):
        idempotency_key (str):
        body (None | ReverseRequest | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody400 | ErrorBody401 | ErrorBody403 | ErrorBody404 | ErrorBody409 | ErrorBody413 | ErrorBody422 | ErrorBody503 | TransferResult
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
