import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.entry_view import EntryView
from ...models.error_body_400 import ErrorBody400
from ...models.error_body_401 import ErrorBody401
from ...models.error_body_403 import ErrorBody403
from ...models.error_body_404 import ErrorBody404
from ...models.error_body_429 import ErrorBody429
from ...models.error_body_500 import ErrorBody500
from ...models.error_body_503 import ErrorBody503
from ...types import UNSET, Response, Unset


def _get_kwargs(
    id: int,
    *,
    limit: int | Unset = UNSET,
    before_id: int | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["limit"] = limit

    params["before_id"] = before_id

    json_since: str | Unset = UNSET
    if not isinstance(since, Unset):
        json_since = since.isoformat()
    params["since"] = json_since

    json_until: str | Unset = UNSET
    if not isinstance(until, Unset):
        json_until = until.isoformat()
    params["until"] = json_until

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/accounts/{id}/entries".format(
            id=quote(str(id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> (
    ErrorBody400
    | ErrorBody401
    | ErrorBody403
    | ErrorBody404
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | list[EntryView]
    | None
):
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        for response_200_item_data in _response_200:
            response_200_item = EntryView.from_dict(response_200_item_data)

            response_200.append(response_200_item)

        return response_200

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
    | ErrorBody403
    | ErrorBody404
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | list[EntryView]
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
    limit: int | Unset = UNSET,
    before_id: int | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
) -> Response[
    ErrorBody400
    | ErrorBody401
    | ErrorBody403
    | ErrorBody404
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | list[EntryView]
]:
    """An account's entries, newest first, each with the balance right after it.

    Args:
        id (int):
        limit (int | Unset):
        before_id (int | Unset):
        since (datetime.datetime | Unset):
        until (datetime.datetime | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody400 | ErrorBody401 | ErrorBody403 | ErrorBody404 | ErrorBody429 | ErrorBody500 | ErrorBody503 | list[EntryView]]
    """

    kwargs = _get_kwargs(
        id=id,
        limit=limit,
        before_id=before_id,
        since=since,
        until=until,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: int,
    *,
    client: AuthenticatedClient,
    limit: int | Unset = UNSET,
    before_id: int | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
) -> (
    ErrorBody400
    | ErrorBody401
    | ErrorBody403
    | ErrorBody404
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | list[EntryView]
    | None
):
    """An account's entries, newest first, each with the balance right after it.

    Args:
        id (int):
        limit (int | Unset):
        before_id (int | Unset):
        since (datetime.datetime | Unset):
        until (datetime.datetime | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody400 | ErrorBody401 | ErrorBody403 | ErrorBody404 | ErrorBody429 | ErrorBody500 | ErrorBody503 | list[EntryView]
    """

    return sync_detailed(
        id=id,
        client=client,
        limit=limit,
        before_id=before_id,
        since=since,
        until=until,
    ).parsed


async def asyncio_detailed(
    id: int,
    *,
    client: AuthenticatedClient,
    limit: int | Unset = UNSET,
    before_id: int | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
) -> Response[
    ErrorBody400
    | ErrorBody401
    | ErrorBody403
    | ErrorBody404
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | list[EntryView]
]:
    """An account's entries, newest first, each with the balance right after it.

    Args:
        id (int):
        limit (int | Unset):
        before_id (int | Unset):
        since (datetime.datetime | Unset):
        until (datetime.datetime | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody400 | ErrorBody401 | ErrorBody403 | ErrorBody404 | ErrorBody429 | ErrorBody500 | ErrorBody503 | list[EntryView]]
    """

    kwargs = _get_kwargs(
        id=id,
        limit=limit,
        before_id=before_id,
        since=since,
        until=until,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: int,
    *,
    client: AuthenticatedClient,
    limit: int | Unset = UNSET,
    before_id: int | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
) -> (
    ErrorBody400
    | ErrorBody401
    | ErrorBody403
    | ErrorBody404
    | ErrorBody429
    | ErrorBody500
    | ErrorBody503
    | list[EntryView]
    | None
):
    """An account's entries, newest first, each with the balance right after it.

    Args:
        id (int):
        limit (int | Unset):
        before_id (int | Unset):
        since (datetime.datetime | Unset):
        until (datetime.datetime | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody400 | ErrorBody401 | ErrorBody403 | ErrorBody404 | ErrorBody429 | ErrorBody500 | ErrorBody503 | list[EntryView]
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            limit=limit,
            before_id=before_id,
            since=since,
            until=until,
        )
    ).parsed
