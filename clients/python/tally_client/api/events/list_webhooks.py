from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body_401 import ErrorBody401
from ...models.error_body_403 import ErrorBody403
from ...models.error_body_429 import ErrorBody429
from ...models.error_body_500 import ErrorBody500
from ...models.error_body_503 import ErrorBody503
from ...models.webhook_view import WebhookView
from ...types import Response


def _get_kwargs() -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/webhooks",
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> (
    ErrorBody401
    | ErrorBody403
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | list[WebhookView]
    | None
):
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        for response_200_item_data in _response_200:
            response_200_item = WebhookView.from_dict(response_200_item_data)

            response_200.append(response_200_item)

        return response_200

    if response.status_code == 401:
        response_401 = ErrorBody401.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody403.from_dict(response.json())

        return response_403

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
    ErrorBody401
    | ErrorBody403
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | list[WebhookView]
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
) -> Response[
    ErrorBody401
    | ErrorBody403
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | list[WebhookView]
]:
    """Every webhook, with its delivery state.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody401 | ErrorBody403 | ErrorBody429 | ErrorBody500 | ErrorBody503 | list[WebhookView]]
    """

    kwargs = _get_kwargs()

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
) -> (
    ErrorBody401
    | ErrorBody403
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | list[WebhookView]
    | None
):
    """Every webhook, with its delivery state.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody401 | ErrorBody403 | ErrorBody429 | ErrorBody500 | ErrorBody503 | list[WebhookView]
    """

    return sync_detailed(
        client=client,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
) -> Response[
    ErrorBody401
    | ErrorBody403
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | list[WebhookView]
]:
    """Every webhook, with its delivery state.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody401 | ErrorBody403 | ErrorBody429 | ErrorBody500 | ErrorBody503 | list[WebhookView]]
    """

    kwargs = _get_kwargs()

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
) -> (
    ErrorBody401
    | ErrorBody403
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | list[WebhookView]
    | None
):
    """Every webhook, with its delivery state.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody401 | ErrorBody403 | ErrorBody429 | ErrorBody500 | ErrorBody503 | list[WebhookView]
    """

    return (
        await asyncio_detailed(
            client=client,
        )
    ).parsed
