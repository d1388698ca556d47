"""list_actions' sort orders, on a real database: what the console's `s` key and the
CLI's `--sort` give."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from db_targets import DbTarget
from homelab_approvals.domain.enums import ActionStatus, SortOrder
from homelab_approvals.service import ApprovalService
from homelab_approvals.service.listing import ActionQuery

pytestmark = pytest.mark.backends


@pytest.fixture
def svc(db_target: DbTarget) -> Iterator[ApprovalService]:
    database = db_target.open()
    service = ApprovalService(database)
    # Labels in an order where case matters: "Web One" < "alpha" < "nas.lan" by byte value.
    for server_id, hostname, label in (
        ("web", "web.lan", "Web One"),
        ("nas", "nas.lan", None),
        ("alpha", "alpha.lan", "alpha"),
    ):
        service.add_server(server_id, hostname, label, paused=True)
        service.create_action(server_id, "apt_update", actor="cron")
    yield service
    database.close()


def test_sort_by_server_reads_names_as_people_do(svc: ApprovalService) -> None:
    page = svc.list_actions(ActionQuery(statuses=(ActionStatus.PENDING,), sort=SortOrder.SERVER))
    assert [a.server_label for a in page.rows] == ["alpha", "nas.lan", "Web One"]
