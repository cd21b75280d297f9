"""Task ledgers (台账): ledgers and their items, assignments with progress and evidence,
supervision and inspections, events and daily digests. One module per concern."""

from tasks.models.assignments import Assignment, Evidence, ProgressReport, TaskSettings, target_inputs
from tasks.models.ledgers import JUDGED_FIELDS, Department, JudgedTarget, Ledger, LedgerSection, TaskItem
from tasks.models.notifications import AssignmentEvent, Notification, NotificationItem
from tasks.models.rollups import CountyMonthRollup, LedgerRollup, UnitRollup
from tasks.models.supervision import (
    STEP_ORDER,
    Colour,
    EscalationRule,
    EscalationStep,
    Inspection,
    InspectionFinding,
    Step,
    SupervisionOrder,
)

__all__ = [
    "JUDGED_FIELDS", "STEP_ORDER", "Assignment", "AssignmentEvent", "Colour", "CountyMonthRollup", "Department",
    "EscalationRule", "EscalationStep", "Evidence", "Inspection", "InspectionFinding", "JudgedTarget", "Ledger",
    "LedgerRollup", "LedgerSection", "Notification", "NotificationItem", "ProgressReport", "Step", "SupervisionOrder",
    "TaskItem", "TaskSettings", "UnitRollup", "target_inputs",
]
