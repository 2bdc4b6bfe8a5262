"""minide.columnar: see docs/columnar.md."""
