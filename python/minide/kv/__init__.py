"""minide.kv: see docs/kv.md."""
