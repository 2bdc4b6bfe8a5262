//! Message ingestion at high rates: a minimal Redis Streams client ([`resp`]) that reads
//! `XREADGROUP` replies straight into Arrow arrays, and msgpack ([`msgpack`]) and JSON
//! ([`json`]) decoders that build Arrow columns by a declared schema ([`columns`]).

pub mod columns;
pub mod json;
pub mod msgpack;
pub mod resp;

#[cfg(test)]
mod tests;
