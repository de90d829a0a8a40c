"""``manage.py cache_torture``: measure the cache's consistency under load and faults.

runner.py (the coordinator) -> worker processes (worker.py over workload.py) writing history
files (records.py) -> checker.py (pure) compares every read with the committed history.
faults.py runs the private redis-server and injects the faults; preflight.py checks the database
before anything starts.
"""
