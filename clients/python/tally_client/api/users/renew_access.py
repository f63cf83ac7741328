from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body_400 import ErrorBody400
from ...models.error_body_401 import ErrorBody401
from ...models.error_body_408 import ErrorBody408
from ...models.error_body_413 import ErrorBody413
from ...models.error_body_429 import ErrorBody429
from ...models.error_body_500 import ErrorBody500
from ...models.error_body_503 import ErrorBody503
from ...models.renew_access_request import RenewAccessRequest
from ...models.renew_access_response import RenewAccessResponse
from ...types import Response


def _get_kwargs(
    *,
    body: RenewAccessRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/tokens/renew_access",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> (
    ErrorBody400
    | ErrorBody401
    | ErrorBody408
    | ErrorBody413
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | RenewAccessResponse
    | None
):
    if response.status_code == 200:
        response_200 = RenewAccessResponse.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody400.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody401.from_dict(response.json())

        return response_401

    if response.status_code == 408:
        response_408 = ErrorBody408.from_dict(response.json())

        return response_408

    if response.status_code == 413:
        response_413 = ErrorBody413.from_dict(response.json())

        return response_413

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
    ErrorBody400
    | ErrorBody401
    | ErrorBody408
    | ErrorBody413
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | RenewAccessResponse
]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: RenewAccessRequest,
) -> Response[
    ErrorBody400
    | ErrorBody401
    | ErrorBody408
    | ErrorBody413
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | RenewAccessResponse
]:
    """200 with a new access token; 401 when the refresh token is not genuine, or its session is
    blocked, expired, or holds another refresh token.

    Args:
        body (RenewAccessRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody400 | ErrorBody401 | ErrorBody408 | ErrorBody413 | ErrorBody429 | ErrorBody500 | ErrorBody503 | RenewAccessResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: RenewAccessRequest,
) -> (
    ErrorBody400
    | ErrorBody401
    | ErrorBody408
    | ErrorBody413
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | RenewAccessResponse
    | None
):
    """200 with a new access token; 401 when the refresh token is not genuine, or its session is
    blocked, expired, or holds another refresh token.

    Args:
        body (RenewAccessRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody400 | ErrorBody401 | ErrorBody408 | ErrorBody413 | ErrorBody429 | ErrorBody500 | ErrorBody503 | RenewAccessResponse
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: RenewAccessRequest,
) -> Response[
    ErrorBody400
    | ErrorBody401
    | ErrorBody408
    | ErrorBody413
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | RenewAccessResponse
]:
    """200 with a new access token; 401 when the refresh token is not genuine, or its session is
    blocked, expired, or holds another refresh token.

    Args:
        body (RenewAccessRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody400 | ErrorBody401 | ErrorBody408 | ErrorBody413 | ErrorBody429 | ErrorBody500 | ErrorBody503 | RenewAccessResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: RenewAccessRequest,
) -> (
    ErrorBody400
    | ErrorBody401
    | ErrorBody408
    | ErrorBody413
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | RenewAccessResponse
    | None
):
    """200 with a new access token; 401 when the refresh token is not genuine, or its session is
    blocked, expired, or holds another refresh token.

    Args:
        body (RenewAccessRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody400 | ErrorBody401 | ErrorBody408 | ErrorBody413 | ErrorBody429 | ErrorBody500 | ErrorBody503 | RenewAccessResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
