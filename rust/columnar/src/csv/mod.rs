//! CSV: a streaming RFC 4180 reader with type inference, producing Arrow batches.
