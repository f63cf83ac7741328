from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.account_view import AccountView
from ...models.error_body_400 import ErrorBody400
from ...models.error_body_401 import ErrorBody401
from ...models.error_body_429 import ErrorBody429
from ...models.error_body_500 import ErrorBody500
from ...models.error_body_503 import ErrorBody503
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    page_id: int | Unset = UNSET,
    page_size: int | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["page_id"] = page_id

    params["page_size"] = page_size

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/accounts",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> (
    ErrorBody400
    | ErrorBody401
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | list[AccountView]
    | None
):
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        for response_200_item_data in _response_200:
            response_200_item = AccountView.from_dict(response_200_item_data)

            response_200.append(response_200_item)

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody400.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody401.from_dict(response.json())

        return response_401

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
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | list[AccountView]
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
    page_id: int | Unset = UNSET,
    page_size: int | Unset = UNSET,
) -> Response[
    ErrorBody400
    | ErrorBody401
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | list[AccountView]
]:
    """The caller's accounts, by id.

    Args:
        page_id (int | Unset):
        page_size (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody400 | ErrorBody401 | ErrorBody429 | ErrorBody500 | ErrorBody503 | list[AccountView]]
    """

    kwargs = _get_kwargs(
        page_id=page_id,
        page_size=page_size,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    page_id: int | Unset = UNSET,
    page_size: int | Unset = UNSET,
) -> (
    ErrorBody400
    | ErrorBody401
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | list[AccountView]
    | None
):
    """The caller's accounts, by id.

    Args:
        page_id (int | Unset):
        page_size (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody400 | ErrorBody401 | ErrorBody429 | ErrorBody500 | ErrorBody503 | list[AccountView]
    """

    return sync_detailed(
        client=client,
        page_id=page_id,
        page_size=page_size,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    page_id: int | Unset = UNSET,
    page_size: int | Unset = UNSET,
) -> Response[
    ErrorBody400
    | ErrorBody401
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | list[AccountView]
]:
    """The caller's accounts, by id.

    Args:
        page_id (int | Unset):
        page_size (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody400 | ErrorBody401 | ErrorBody429 | ErrorBody500 | ErrorBody503 | list[AccountView]]
    """

    kwargs = _get_kwargs(
        page_id=page_id,
        page_size=page_size,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    page_id: int | Unset = UNSET,
    page_size: int | Unset = UNSET,
) -> (
    ErrorBody400
    | ErrorBody401
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | list[AccountView]
    | None
):
    """The caller's accounts, by id.

    Args:
        page_id (int | Unset):
        page_size (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody400 | ErrorBody401 | ErrorBody429 | ErrorBody500 | ErrorBody503 | list[AccountView]
    """

    return (
        await asyncio_detailed(
            client=client,
            page_id=page_id,
            page_size=page_size,
        )
    ).parsed
