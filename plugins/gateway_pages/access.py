"""Who may see the pages and who may act on them, decided by Airflow's own authentication and auth manager.

Airflow 3.3 mounts a plugin's FastAPI app as it is: nothing in front of it checks a login. So every route
here depends on :func:`reader` or :func:`actor`. Both take the caller as Airflow's API does
(``airflow.api_fastapi.core_api.security.get_user``: the ``Authorization: Bearer`` JWT, else the ``_token``
cookie the UI sets at login) and ask the configured auth manager through Airflow's own
``requires_access_dag`` — so the simple auth manager's roles, FAB's or Keycloak's permissions apply
unchanged. The pages are views of what the gateway's DAGs do, and each is guarded by its DAG:

* reading a department's files: read access to the ``department_files`` DAG;
* reading the resolution queue, the deliveries and the entities: read access to ``deliver_to_province``;
* dropping a file (it is ingested at once, as a run of ``department_files`` would): permission to trigger
  ``department_files`` (create a DAG run);
* resolving a queue entry or retrying a batch (both send records to the hub, as a delivery run does):
  permission to trigger ``deliver_to_province``;
* reading the early warnings and exporting them: read access to ``credit_warnings``; acknowledging, handling
  or dismissing one: permission to trigger ``credit_warnings``.
* reading the double-random tasks and their draws: read access to ``double_random_draw``; drawing a task
  (with a witnessed nonce) or verifying its signed record: permission to trigger ``double_random_draw``.

Checking a file stores nothing and needs read access only.

The credit risk class (gateway.credit) is internal: a basis for allocating supervision, not a public rating.
The entity page shows it only to a caller who may trigger ``credit_classify`` (supervising staff: in the
simple auth manager USER and above; with FAB or Keycloak, whoever is granted runs of that DAG), and says
nothing of it to anyone else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import bearer_scheme, get_user, requires_access_dag
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials

INGEST_DAG = "department_files"
DELIVERY_DAG = "deliver_to_province"
CREDIT_DAG = "credit_classify"
WARNINGS_DAG = "credit_warnings"
DRAWS_DAG = "double_random_draw"


class NotSignedIn(Exception):
    """No valid Airflow login came with the request: pages send the browser to the login page."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


async def signed_in(
    request: Request, bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> BaseUser:
    """The caller, exactly as Airflow's API resolves it; a missing, expired or invalid token is
    NotSignedIn (Airflow answers 401 or 403 for those; a page answers with the login page)."""
    try:
        return await get_user(request, None, bearer)
    except HTTPException as exc:
        raise NotSignedIn(str(exc.detail)) from exc


def _allowed(method: str, dag_id: str, entity: DagAccessEntity | None) -> Callable[..., BaseUser]:
    check = requires_access_dag(method, entity, param_dag_id=dag_id)  # type: ignore[arg-type]

    def permitted(request: Request, user: Annotated[BaseUser, Depends(signed_in)]) -> BaseUser:
        check(request, user)  # HTTPException 403 when the auth manager says no
        return user

    return permitted


def reader(dag_id: str) -> Callable[..., BaseUser]:
    """A signed-in user who may read ``dag_id``."""
    return _allowed("GET", dag_id, None)


def actor(dag_id: str) -> Callable[..., BaseUser]:
    """A signed-in user who may trigger ``dag_id`` (create a DAG run)."""
    return _allowed("POST", dag_id, DagAccessEntity.RUN)


def may(request: Request, user: BaseUser, dag_id: str) -> bool:
    """Whether ``user`` may trigger ``dag_id``: for a part of a page (the risk class), not a whole route."""
    try:
        requires_access_dag("POST", DagAccessEntity.RUN, param_dag_id=dag_id)(request, user)  # type: ignore[arg-type]
    except HTTPException:
        return False
    return True
