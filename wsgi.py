"""WSGI entry point (gunicorn wsgi:app): the app plus the process-level start-up work.

Start-up side effects live here, not in create_app, so tests, the CLI and migrations build
the app without starting threads: the weekly-report scheduler (FIELDLOG_SCHEDULER, on by
default) and the loud warning when PDF font subsetting would be slow.
"""

import sys

from fieldlog import create_app
from fieldlog.app.config import ConfigError
from fieldlog.jobs.schedule import start_scheduler
from fieldlog.jobs.warm import warm_at_start
from fieldlog.present.pdf import warn_if_slow_fonts

try:
    app = create_app()
except ConfigError as exc:
    # One line naming the setting; exit 3 is gunicorn's "worker failed to boot": it stops.
    print(f"FieldLog cannot start: {exc}", file=sys.stderr, flush=True)
    sys.exit(3)
warn_if_slow_fonts()
start_scheduler(app)
warm_at_start(app)
