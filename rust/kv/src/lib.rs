//! minide kv: an LSM-tree, bitemporal time-travel key-value store. See `docs/kv.md`.
