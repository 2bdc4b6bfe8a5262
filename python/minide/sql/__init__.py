"""minide.sql: see docs/sql.md."""
