"""minide.stream: see docs/stream.md."""
