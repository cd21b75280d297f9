"""``manage.py runportal``: the whole portal in one terminal, for ``make run``.

Starts a Celery worker with embedded beat as a child process, then Django's
development server in the foreground. When the server stops (Ctrl-C, SIGTERM)
the worker is stopped too: SIGTERM first (Celery's warm shutdown), SIGKILL
after ``--worker-timeout`` seconds.

With the autoreloader (the default, as with runserver) Django re-executes this
command in a child process with ``RUN_MAIN=true``; only the outer process, which
lives as long as the session, starts the worker and prints the banner, so a code
change restarts the web server but never starts a second worker. (The worker
does not reload: restart ``make run`` after changing a job.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from core import demo

# Set by Django's autoreloader in the child process that actually serves.
RELOADER_CHILD_ENV = "RUN_MAIN"
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when its parent dies (even by SIGKILL)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run the portal for development: a Celery worker (with embedded beat) and the web server."

    # Checks run in runserver; running them here too would only double the output.
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--addrport", default="127.0.0.1:8000", help="Address and port of the web server (127.0.0.1:8000)."
        )
        parser.add_argument(
            "--noreload", action="store_false", dest="use_reloader", help="Do not restart the web server on code changes."
        )
        parser.add_argument("--no-worker", action="store_false", dest="with_worker", help="Do not start a Celery worker.")
        parser.add_argument(
            "--worker-timeout",
            type=float,
            default=10.0,
            help="Seconds to wait for the worker's warm shutdown before killing it (10).",
        )

    # -- pieces --------------------------------------------------------------

    def worker_command(self) -> list[str]:
        schedule = Path(settings.CELERY_BEAT_SCHEDULE_FILENAME)
        schedule.parent.mkdir(parents=True, exist_ok=True)
        return [
            sys.executable, "-m", "celery", "-A", "config", "worker", "-B",
            "--pool=solo", "--loglevel=INFO",
            f"--schedule={schedule}",
            "--hostname=portal-dev@%h",
        ]  # fmt: skip

    def start_worker(self) -> subprocess.Popen:
        command = self.worker_command()
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings")}
        env.pop(RELOADER_CHILD_ENV, None)
        # The worker runs from var/ (anything it writes relative lands there), with the
        # project on its path.
        base_dir = str(settings.BASE_DIR)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [base_dir, os.environ.get("PYTHONPATH")]))
        var_dir = Path(settings.VAR_DIR)
        var_dir.mkdir(parents=True, exist_ok=True)
        self.stdout.write(f"Starting the Celery worker with embedded beat: {' '.join(command[2:])}")
        try:
            return subprocess.Popen(
                command,
                cwd=var_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                # Own process group: Ctrl-C reaches only us, and we stop the worker
                # (and its embedded beat process) in order.
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        except OSError as exc:
            raise CommandError(f"Could not start the Celery worker: {exc}") from exc

    def stop_worker(self, worker: subprocess.Popen, timeout: float) -> None:
        if worker.poll() is not None:
            self.stdout.write(f"The Celery worker had already exited (code {worker.returncode}).")
            return
        self.stdout.write("Stopping the Celery worker ...")
        self._signal_group(worker, signal.SIGTERM)
        try:
            worker.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stderr.write(f"The Celery worker did not stop within {timeout:g} s; killing it.")
            self._signal_group(worker, signal.SIGKILL)
            worker.wait(timeout=5)
        else:
            # Beat's embedded process lives in the same group; make sure it is gone.
            self._signal_group(worker, signal.SIGKILL)
        self.stdout.write("The Celery worker has stopped.")

    @staticmethod
    def _signal_group(worker: subprocess.Popen, signum: int) -> None:
        try:
            os.killpg(worker.pid, signum)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                worker.send_signal(signum)

    def print_banner(self, addrport: str) -> None:
        host, _, port = addrport.rpartition(":")
        host = host or "127.0.0.1"
        if host in ("0.0.0.0", "::", "[::]"):
            host = "127.0.0.1"
        url = f"http://{host}:{port or '8000'}/"
        style = self.style
        self.stdout.write("")
        self.stdout.write(style.SUCCESS(f"医共体治理门户 · Portal: {url}"))
        self.stdout.write(f"Admin: {url}admin/   API: {url}api/")
        with translation.override(settings.LANGUAGE_CODE):
            logins = self.demo_logins()
        if logins:
            password = demo.logins().password
            self.stdout.write(style.MIGRATE_HEADING(f"Demo logins 演示账号 (password 密码: {password}):"))
            for line in logins:
                self.stdout.write(f"  {line}")
        self.stdout.write("Press Ctrl-C to stop the server and the worker.")
        self.stdout.write("")

    @staticmethod
    def demo_logins() -> list[str]:
        """Lines describing the demo accounts, as the app that owns them registered them (``core.demo``)."""
        registered = demo.logins()
        if registered is None:
            return []
        try:
            logins = registered.rows()
        except Exception as exc:  # the banner must never keep the portal from starting
            return [f"(could not list the demo logins: {exc})"]
        if isinstance(logins, str):
            return logins.splitlines()
        rows = []
        for item in logins or []:
            if isinstance(item, dict):
                item = list(item.values())
            if isinstance(item, list | tuple):
                rows.append([str(value) for value in item if value not in (None, "")])
            else:
                rows.append([str(item)])
        width = max((len(row[0]) for row in rows if len(row) > 1), default=0)
        return ["  ".join([row[0].ljust(width), *row[1:]]).rstrip() for row in rows]

    # -- main ----------------------------------------------------------------

    def handle(self, *args, **options):
        addrport = options["addrport"]
        use_reloader = options["use_reloader"]
        in_reloader_child = os.environ.get(RELOADER_CHILD_ENV) == "true"

        if in_reloader_child:
            # Re-executed by the autoreloader: the outer process owns the worker. If the
            # outer process goes away (SIGTERM makes it exit at once), take the server down too.
            _die_with_parent()
            call_command("runserver", addrport, use_reloader=True)
            return

        worker = self.start_worker() if options["with_worker"] else None
        previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        try:
            self.print_banner(addrport)
            # runserver turns Ctrl-C into SystemExit; SIGTERM arrives as KeyboardInterrupt
            # (or, with the reloader, as SystemExit from its own handler).
            call_command("runserver", addrport, use_reloader=use_reloader)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            if worker is not None:
                self.stop_worker(worker, options["worker_timeout"])
