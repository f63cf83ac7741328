import datetime
from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body_400 import ErrorBody400
from ...models.error_body_401 import ErrorBody401
from ...models.search_transfers_status import SearchTransfersStatus
from ...models.transfer_page import TransferPage
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    account_id: int | Unset = UNSET,
    reference: str | Unset = UNSET,
    status: SearchTransfersStatus | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    limit: int | Unset = UNSET,
    before_id: int | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["account_id"] = account_id

    params["reference"] = reference

    json_status: str | Unset = UNSET
    if not isinstance(status, Unset):
        json_status = status.value

    params["status"] = json_status

    json_since: str | Unset = UNSET
    if not isinstance(since, Unset):
        json_since = since.isoformat()
    params["since"] = json_since

    json_until: str | Unset = UNSET
    if not isinstance(until, Unset):
        json_until = until.isoformat()
    params["until"] = json_until

    params["limit"] = limit

    params["before_id"] = before_id

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/transfers",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody400 | ErrorBody401 | TransferPage | None:
    if response.status_code == 200:
        response_200 = TransferPage.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody400.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody401.from_dict(response.json())

        return response_401

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorBody400 | ErrorBody401 | TransferPage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    account_id: int | Unset = UNSET,
    reference: str | Unset = UNSET,
    status: SearchTransfersStatus | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    limit: int | Unset = UNSET,
    before_id: int | Unset = UNSET,
) -> Response[ErrorBody400 | ErrorBody401 | TransferPage]:
    """The transfers the caller may see (touching an account they own; a banker: all), newest
    first. Filters combine; `metadata.KEY=VALUE` (repeatable, at most 16) matches the payer's
    metadata, and like `reference`, finds for a customer only transfers they paid.

    Args:
        account_id (int | Unset):
        reference (str | Unset):
        status (SearchTransfersStatus | Unset):
        since (datetime.datetime | Unset):
        until (datetime.datetime | Unset):
        limit (int | Unset):
        before_id (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody400 | ErrorBody401 | TransferPage]
    """

    kwargs = _get_kwargs(
        account_id=account_id,
        reference=reference,
        status=status,
        since=since,
        until=until,
        limit=limit,
        before_id=before_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    account_id: int | Unset = UNSET,
    reference: str | Unset = UNSET,
    status: SearchTransfersStatus | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    limit: int | Unset = UNSET,
    before_id: int | Unset = UNSET,
) -> ErrorBody400 | ErrorBody401 | TransferPage | None:
    """The transfers the caller may see (touching an account they own; a banker: all), newest
    first. Filters combine; `metadata.KEY=VALUE` (repeatable, at most 16) matches the payer's
    metadata, and like `reference`, finds for a customer only transfers they paid.

    Args:
        account_id (int | Unset):
        reference (str | Unset):
        status (SearchTransfersStatus | Unset):
        since (datetime.datetime | Unset):
        until (datetime.datetime | Unset):
        limit (int | Unset):
        before_id (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody400 | ErrorBody401 | TransferPage
    """

    return sync_detailed(
        client=client,
        account_id=account_id,
        reference=reference,
        status=status,
        since=since,
        until=until,
        limit=limit,
        before_id=before_id,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    account_id: int | Unset = UNSET,
    reference: str | Unset = UNSET,
    status: SearchTransfersStatus | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    limit: int | Unset = UNSET,
    before_id: int | Unset = UNSET,
) -> Response[ErrorBody400 | ErrorBody401 | TransferPage]:
    """The transfers the caller may see (touching an account they own; a banker: all), newest
    first. Filters combine; `metadata.KEY=VALUE` (repeatable, at most 16) matches the payer's
    metadata, and like `reference`, finds for a customer only transfers they paid.

    Args:
        account_id (int | Unset):
        reference (str | Unset):
        status (SearchTransfersStatus | Unset):
        since (datetime.datetime | Unset):
        until (datetime.datetime | Unset):
        limit (int | Unset):
        before_id (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody400 | ErrorBody401 | TransferPage]
    """

    kwargs = _get_kwargs(
        account_id=account_id,
        reference=reference,
        status=status,
        since=since,
        until=until,
        limit=limit,
        before_id=before_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    account_id: int | Unset = UNSET,
    reference: str | Unset = UNSET,
    status: SearchTransfersStatus | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    limit: int | Unset = UNSET,
    before_id: int | Unset = UNSET,
) -> ErrorBody400 | ErrorBody401 | TransferPage | None:
    """The transfers the caller may see (touching an account they own; a banker: all), newest
    first. Filters combine; `metadata.KEY=VALUE` (repeatable, at most 16) matches the payer's
    metadata, and like `reference`, finds for a customer only transfers they paid.

    Args:
        account_id (int | Unset):
        reference (str | Unset):
        status (SearchTransfersStatus | Unset):
        since (datetime.datetime | Unset):
        until (datetime.datetime | Unset):
        limit (int | Unset):
        before_id (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody400 | ErrorBody401 | TransferPage
    """

    return (
        await asyncio_detailed(
            client=client,
            account_id=account_id,
            reference=reference,
            status=status,
            since=since,
            until=until,
            limit=limit,
            before_id=before_id,
        )
    ).parsed
