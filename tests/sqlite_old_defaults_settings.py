"""Django's own SQLite defaults (rollback journal, deferred transactions, 5 s busy timeout), as the
portal had them before issue 16: only for showing that tests/test_sqlite_concurrency.py fails
without the portal's settings (``SQLITE_CONCURRENCY_OLD_DEFAULTS=1 pytest
tests/test_sqlite_concurrency.py``). Never used by the portal itself."""

from config.settings import *  # noqa: F401,F403
from config.settings import DATABASES

DATABASES["default"]["OPTIONS"] = {}
