"""Check the security log's hash chain (``core.audit.verify``): every row from the chain's start
(after the last purge) to its head, in order, unchanged, none missing. Prints what it checked; on a
break names the first bad row and exits with status 1 (for cron and monitoring)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core import audit
from core.models import AuditChain, SecurityEvent


class Command(BaseCommand):
    help = "Verify the security log's hash chain; exit 1 and name the first bad row if it is broken."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=2000, help="Rows read per query (default 2000).")

    def handle(self, *args, **options):
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1")
        result = audit.verify(batch=options["batch"])
        head = AuditChain.objects.filter(pk=1).first()
        span = f"seq {head.start_seq}–{head.last_seq}" if head is not None else "no chain head"
        if result.ok:
            self.stdout.write(f"Security log intact: {result.checked} row(s) checked ({span}).")
            return
        self.stderr.write(f"Security log BROKEN after {result.checked} intact row(s) ({span}).")
        self.stderr.write(f"First bad row: {self._describe(result)}")
        self.stderr.write(f"Problem: {result.problem}")
        raise SystemExit(1)

    @staticmethod
    def _describe(result: audit.Verification) -> str:
        parts = [f"seq {result.first_bad_seq}" if result.first_bad_seq is not None else "seq ?"]
        row = None
        if result.first_bad_id is not None:
            row = SecurityEvent.objects.filter(pk=result.first_bad_id).first()
        elif result.first_bad_seq is not None:
            row = SecurityEvent.objects.filter(seq=result.first_bad_seq).first()
        if row is not None:
            parts += [f"id {row.pk}", f"time {timezone.localtime(row.time).isoformat()}", f"event {row.event}"]
        elif result.first_bad_id is not None:
            parts.append(f"id {result.first_bad_id}")
        return ", ".join(parts)
