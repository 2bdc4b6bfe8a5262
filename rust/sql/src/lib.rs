//! minide SQL executor: vectorized physical operators over Arrow batches. See `docs/sql.md`.
