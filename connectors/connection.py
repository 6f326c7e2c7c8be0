"""An Airflow Connection as the connectors read it, and the hooks that each own one.

Where a system is and its secrets live in an Airflow Connection, so that they rotate without a code change
and never sit in the repository; what to fetch lives in the mapping's ``pull:`` block, reviewed with the
mapping. Each system has a hook (:class:`connectors.rest_api_config.RestApiHook`,
:class:`connectors.sql_staging.StagingDatabaseHook`, :class:`connectors.xml_feed.FeedShareHook`,
:class:`connectors.airflow_settings.GatewayHubHook`) that owns its Connection and is the only code reading
the Connection's fields: it turns them into the plain settings its connector takes.

The hooks follow the providers' pattern — one class per system, built around one Connection — without
subclassing ``airflow.sdk.BaseHook``: that would import Airflow (over a second, and its configuration)
wherever a connector is imported, while the connectors are imported in tasks only and tested with plain
objects that have a Connection's attributes. :func:`get_connection` is the one place that asks Airflow for
a Connection.
"""

from __future__ import annotations

from typing import Any, Protocol


class ConnectionLike(Protocol):
    """What the hooks read of an Airflow Connection (``airflow.sdk.Connection`` has all of it)."""

    conn_type: str | None
    host: str | None
    port: int | None
    schema: str | None
    login: str | None
    password: str | None

    @property
    def extra_dejson(self) -> dict[str, Any]: ...


def get_connection(conn_id: str) -> ConnectionLike:
    """The Airflow Connection ``conn_id``: in a task from the API server, elsewhere from the
    ``AIRFLOW_CONN_*`` environment variables. Raises ``airflow.sdk.exceptions.AirflowNotFoundException``
    when it is not defined. Airflow is imported here, at call time, so that importing a connector never
    loads it."""
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(conn_id)  # type: ignore[return-value]


class ConnectionHook:
    """The base of the hooks: holds the Connection and a copy of its extras (which may be absent)."""

    def __init__(self, connection: ConnectionLike) -> None:
        self.connection = connection
        self.extra: dict[str, Any] = dict(connection.extra_dejson or {})
