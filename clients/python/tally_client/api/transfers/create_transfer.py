from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.create_transfer_request import CreateTransferRequest
from ...models.dry_run_result import DryRunResult
from ...models.error_body_400 import ErrorBody400
from ...models.error_body_401 import ErrorBody401
from ...models.error_body_403 import ErrorBody403
from ...models.error_body_404 import ErrorBody404
from ...models.error_body_408 import ErrorBody408
from ...models.error_body_409 import ErrorBody409
from ...models.error_body_413 import ErrorBody413
from ...models.error_body_422 import ErrorBody422
from ...models.error_body_429 import ErrorBody429
from ...models.error_body_500 import ErrorBody500
from ...models.error_body_503 import ErrorBody503
from ...models.transfer_result import TransferResult
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: CreateTransferRequest,
    dry_run: bool | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    params: dict[str, Any] = {}

    params["dry_run"] = dry_run

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/transfers",
        "params": params,
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> (
    DryRunResult
    | ErrorBody400
    | ErrorBody401
    | ErrorBody403
    | ErrorBody404
    | ErrorBody408
    | ErrorBody409
    | ErrorBody413
    | ErrorBody422
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | TransferResult
    | None
):
    if response.status_code == 200:
        response_200 = DryRunResult.from_dict(response.json())

        return response_200

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

    if response.status_code == 408:
        response_408 = ErrorBody408.from_dict(response.json())

        return response_408

    if response.status_code == 409:
        response_409 = ErrorBody409.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = ErrorBody413.from_dict(response.json())

        return response_413

    if response.status_code == 422:
        response_422 = ErrorBody422.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = ErrorBody429.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = ErrorBody500.from_dict(response.json())

        return response_500

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
    DryRunResult
    | ErrorBody400
    | ErrorBody401
    | ErrorBody403
    | ErrorBody404
    | ErrorBody408
    | ErrorBody409
    | ErrorBody413
    | ErrorBody422
    | ErrorBody429
    | ErrorBody500
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
    *,
    client: AuthenticatedClient,
    body: CreateTransferRequest,
    dry_run: bool | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[
    DryRunResult
    | ErrorBody400
    | ErrorBody401
    | ErrorBody403
    | ErrorBody404
    | ErrorBody408
    | ErrorBody409
    | ErrorBody413
    | ErrorBody422
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | TransferResult
]:
    """Move money from one of the caller's accounts to another account in the same currency, or hold
    it there as a pending transfer (`pending: true`) for the payee to post or void.

    Args:
        dry_run (bool | Unset):
        idempotency_key (str | Unset):
        body (CreateTransferRequest): Serialised, it is the request's idempotency fingerprint
            (`routes::idempotency::Asked`).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DryRunResult | ErrorBody400 | ErrorBody401 | ErrorBody403 | ErrorBody404 | ErrorBody408 | ErrorBody409 | ErrorBody413 | ErrorBody422 | ErrorBody429 | ErrorBody500 | ErrorBody503 | TransferResult]
    """

    kwargs = _get_kwargs(
        body=body,
        dry_run=dry_run,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: CreateTransferRequest,
    dry_run: bool | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> (
    DryRunResult
    | ErrorBody400
    | ErrorBody401
    | ErrorBody403
    | ErrorBody404
    | ErrorBody408
    | ErrorBody409
    | ErrorBody413
    | ErrorBody422
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | TransferResult
    | None
):
    """Move money from one of the caller's accounts to another account in the same currency, or hold
    it there as a pending transfer (`pending: true`) for the payee to post or void.

    Args:
        dry_run (bool | Unset):
        idempotency_key (str | Unset):
        body (CreateTransferRequest): Serialised, it is the request's idempotency fingerprint
            (`routes::idempotency::Asked`).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DryRunResult | ErrorBody400 | ErrorBody401 | ErrorBody403 | ErrorBody404 | ErrorBody408 | ErrorBody409 | ErrorBody413 | ErrorBody422 | ErrorBody429 | ErrorBody500 | ErrorBody503 | TransferResult
    """

    return sync_detailed(
        client=client,
        body=body,
        dry_run=dry_run,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: CreateTransferRequest,
    dry_run: bool | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[
    DryRunResult
    | ErrorBody400
    | ErrorBody401
    | ErrorBody403
    | ErrorBody404
    | ErrorBody408
    | ErrorBody409
    | ErrorBody413
    | ErrorBody422
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | TransferResult
]:
    """Move money from one of the caller's accounts to another account in the same currency, or hold
    it there as a pending transfer (`pending: true`) for the payee to post or void.

    Args:
        dry_run (bool | Unset):
        idempotency_key (str | Unset):
        body (CreateTransferRequest): Serialised, it is the request's idempotency fingerprint
            (`routes::idempotency::Asked`).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DryRunResult | ErrorBody400 | ErrorBody401 | ErrorBody403 | ErrorBody404 | ErrorBody408 | ErrorBody409 | ErrorBody413 | ErrorBody422 | ErrorBody429 | ErrorBody500 | ErrorBody503 | TransferResult]
    """

    kwargs = _get_kwargs(
        body=body,
        dry_run=dry_run,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: CreateTransferRequest,
    dry_run: bool | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> (
    DryRunResult
    | ErrorBody400
    | ErrorBody401
    | ErrorBody403
    | ErrorBody404
    | ErrorBody408
    | ErrorBody409
    | ErrorBody413
    | ErrorBody422
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | TransferResult
    | None
):
    """Move money from one of the caller's accounts to another account in the same currency, or hold
    it there as a pending transfer (`pending: true`) for the payee to post or void.

    Args:
        dry_run (bool | Unset):
        idempotency_key (str | Unset):
        body (CreateTransferRequest): Serialised, it is the request's idempotency fingerprint
            (`routes::idempotency::Asked`).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DryRunResult | ErrorBody400 | ErrorBody401 | ErrorBody403 | ErrorBody404 | ErrorBody408 | ErrorBody409 | ErrorBody413 | ErrorBody422 | ErrorBody429 | ErrorBody500 | ErrorBody503 | TransferResult
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            dry_run=dry_run,
            idempotency_key=idempotency_key,
        )
    ).parsed
