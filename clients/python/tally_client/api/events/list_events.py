from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body_400 import ErrorBody400
from ...models.error_body_401 import ErrorBody401
from ...models.error_body_429 import ErrorBody429
from ...models.error_body_500 import ErrorBody500
from ...models.error_body_503 import ErrorBody503
from ...models.events_page import EventsPage
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    after: int | Unset = UNSET,
    limit: int | Unset = UNSET,
    wait: int | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["after"] = after

    params["limit"] = limit

    params["wait"] = wait

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/events",
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
    | EventsPage
    | None
):
    if response.status_code == 200:
        response_200 = EventsPage.from_dict(response.json())

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
    | EventsPage
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
    after: int | Unset = UNSET,
    limit: int | Unset = UNSET,
    wait: int | Unset = UNSET,
) -> Response[
    ErrorBody400
    | ErrorBody401
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | EventsPage
]:
    """The events after `after` the caller may see, in id order; with `wait`, held until there is
    one (or `wait` seconds pass).

    Args:
        after (int | Unset):
        limit (int | Unset):
        wait (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody400 | ErrorBody401 | ErrorBody429 | ErrorBody500 | ErrorBody503 | EventsPage]
    """

    kwargs = _get_kwargs(
        after=after,
        limit=limit,
        wait=wait,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    after: int | Unset = UNSET,
    limit: int | Unset = UNSET,
    wait: int | Unset = UNSET,
) -> (
    ErrorBody400
    | ErrorBody401
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | EventsPage
    | None
):
    """The events after `after` the caller may see, in id order; with `wait`, held until there is
    one (or `wait` seconds pass).

    Args:
        after (int | Unset):
        limit (int | Unset):
        wait (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody400 | ErrorBody401 | ErrorBody429 | ErrorBody500 | ErrorBody503 | EventsPage
    """

    return sync_detailed(
        client=client,
        after=after,
        limit=limit,
        wait=wait,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    after: int | Unset = UNSET,
    limit: int | Unset = UNSET,
    wait: int | Unset = UNSET,
) -> Response[
    ErrorBody400
    | ErrorBody401
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | EventsPage
]:
    """The events after `after` the caller may see, in id order; with `wait`, held until there is
    one (or `wait` seconds pass).

    Args:
        after (int | Unset):
        limit (int | Unset):
        wait (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody400 | ErrorBody401 | ErrorBody429 | ErrorBody500 | ErrorBody503 | EventsPage]
    """

    kwargs = _get_kwargs(
        after=after,
        limit=limit,
        wait=wait,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    after: int | Unset = UNSET,
    limit: int | Unset = UNSET,
    wait: int | Unset = UNSET,
) -> (
    ErrorBody400
    | ErrorBody401
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | EventsPage
    | None
):
    """The events after `after` the caller may see, in id order; with `wait`, held until there is
    one (or `wait` seconds pass).

    Args:
        after (int | Unset):
        limit (int | Unset):
        wait (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody400 | ErrorBody401 | ErrorBody429 | ErrorBody500 | ErrorBody503 | EventsPage
    """

    return (
        await asyncio_detailed(
            client=client,
            after=after,
            limit=limit,
            wait=wait,
        )
    ).parsed
