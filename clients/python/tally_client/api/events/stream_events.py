from http import HTTPStatus
from typing import Any, cast

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body_400 import ErrorBody400
from ...models.error_body_401 import ErrorBody401
from ...models.error_body_429 import ErrorBody429
from ...models.error_body_500 import ErrorBody500
from ...models.error_body_503 import ErrorBody503
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    after: int | Unset = UNSET,
    last_event_id: int | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(last_event_id, Unset):
        headers["Last-Event-ID"] = str(last_event_id)

    params: dict[str, Any] = {}

    params["after"] = after

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/events/stream",
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> (
    Any
    | ErrorBody400
    | ErrorBody401
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | None
):
    if response.status_code == 200:
        response_200 = cast(Any, None)
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
    Any | ErrorBody400 | ErrorBody401 | ErrorBody429 | ErrorBody500 | ErrorBody503
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
    last_event_id: int | Unset = UNSET,
) -> Response[
    Any | ErrorBody400 | ErrorBody401 | ErrorBody429 | ErrorBody500 | ErrorBody503
]:
    """The same events, pushed as Server-Sent Events (`id:`, `event:` the type, `data:` the JSON of
    an event), from `Last-Event-ID` (or `after`); a comment every 15 s when idle. The stream ends
    after the access token's lifetime: reconnect with a fresh token and `Last-Event-ID`.

    Args:
        after (int | Unset):
        last_event_id (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody400 | ErrorBody401 | ErrorBody429 | ErrorBody500 | ErrorBody503]
    """

    kwargs = _get_kwargs(
        after=after,
        last_event_id=last_event_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    after: int | Unset = UNSET,
    last_event_id: int | Unset = UNSET,
) -> (
    Any
    | ErrorBody400
    | ErrorBody401
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | None
):
    """The same events, pushed as Server-Sent Events (`id:`, `event:` the type, `data:` the JSON of
    an event), from `Last-Event-ID` (or `after`); a comment every 15 s when idle. The stream ends
    after the access token's lifetime: reconnect with a fresh token and `Last-Event-ID`.

    Args:
        after (int | Unset):
        last_event_id (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody400 | ErrorBody401 | ErrorBody429 | ErrorBody500 | ErrorBody503
    """

    return sync_detailed(
        client=client,
        after=after,
        last_event_id=last_event_id,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    after: int | Unset = UNSET,
    last_event_id: int | Unset = UNSET,
) -> Response[
    Any | ErrorBody400 | ErrorBody401 | ErrorBody429 | ErrorBody500 | ErrorBody503
]:
    """The same events, pushed as Server-Sent Events (`id:`, `event:` the type, `data:` the JSON of
    an event), from `Last-Event-ID` (or `after`); a comment every 15 s when idle. The stream ends
    after the access token's lifetime: reconnect with a fresh token and `Last-Event-ID`.

    Args:
        after (int | Unset):
        last_event_id (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | ErrorBody400 | ErrorBody401 | ErrorBody429 | ErrorBody500 | ErrorBody503]
    """

    kwargs = _get_kwargs(
        after=after,
        last_event_id=last_event_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    after: int | Unset = UNSET,
    last_event_id: int | Unset = UNSET,
) -> (
    Any
    | ErrorBody400
    | ErrorBody401
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | None
):
    """The same events, pushed as Server-Sent Events (`id:`, `event:` the type, `data:` the JSON of
    an event), from `Last-Event-ID` (or `after`); a comment every 15 s when idle. The stream ends
    after the access token's lifetime: reconnect with a fresh token and `Last-Event-ID`.

    Args:
        after (int | Unset):
        last_event_id (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | ErrorBody400 | ErrorBody401 | ErrorBody429 | ErrorBody500 | ErrorBody503
    """

    return (
        await asyncio_detailed(
            client=client,
            after=after,
            last_event_id=last_event_id,
        )
    ).parsed
