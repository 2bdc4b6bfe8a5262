//! minide stream: durable log, dedup state store, windows, checkpoints. See `docs/stream.md`.
