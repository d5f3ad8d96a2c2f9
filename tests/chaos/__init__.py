"""Chaos suite: the real services on Apache Kafka under a seeded fault schedule.

See ``docs/reliability.md``. ``test_chaos.py`` runs a small schedule in ``make test``;
``python -m tests.chaos.run`` (``make chaos``) runs the full one and prints the table.
"""
