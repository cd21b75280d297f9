"""Pages of the task ledgers, one module per concern."""

from tasks.views.county import department_list, notification_list, notification_read, task_settings
from tasks.views.imports import ledger_import
from tasks.views.ledgers import (
    item_create,
    item_deadline,
    item_detail,
    item_edit,
    ledger_create_view,
    ledger_detail,
    ledger_edit,
    ledger_list,
    ledger_xlsx,
)
from tasks.views.progress import evidence_download, my_tasks, report_create, report_review, review_queue
from tasks.views.supervision import (
    assignment_list,
    assignment_list_xlsx,
    dashboard,
    finding_task,
    inspection_create,
    inspection_detail,
    inspection_list,
    order_create,
    order_detail,
    order_list,
)

__all__ = [
    "assignment_list", "assignment_list_xlsx", "dashboard", "department_list", "evidence_download", "finding_task",
    "inspection_create", "inspection_detail", "inspection_list", "item_create", "item_deadline", "item_detail",
    "item_edit", "ledger_create_view", "ledger_detail", "ledger_edit", "ledger_import", "ledger_list", "ledger_xlsx",
    "my_tasks", "notification_list", "notification_read", "order_create", "order_detail", "order_list",
    "report_create", "report_review", "review_queue", "task_settings",
]
