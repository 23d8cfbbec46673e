"""tests/dbt: rule tests on hand-built worlds. The harness lives in tests/dbt/harness.py
(DbtHarness: write a source world, run dbt in-process, read the output tables back), the
independent reference implementation in tests/dbt/reference.py."""
