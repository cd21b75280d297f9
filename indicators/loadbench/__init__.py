"""``manage.py bench_load``: the month-end load benchmark (issue 16).

``world`` builds a synthetic county with one filer per client and editable monthly filings;
``client`` is the bounded, threaded HTTP client that plays the filers against a gunicorn on
loopback; ``run`` owns the throwaway PostgreSQL database, the server, the phases, the report and
the check that every value sent is in the database with its audit row."""
