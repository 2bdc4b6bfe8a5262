"""minide.replication: see docs/replication.md."""
