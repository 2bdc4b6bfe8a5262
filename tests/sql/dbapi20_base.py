"""What the two PEP 249 suites (``test_dbapi20.py``, ``test_dbapi20_parameters.py``) share:
the table the ``cur`` fixture (``conftest.py``) creates, and its sample rows."""

TABLE = "booze"
SAMPLES = ["Carlton Cold", "Carlton Draft", "Mountain Goat", "Redback", "Victoria Bitter", "XXXX"]
