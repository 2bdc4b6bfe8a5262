//! Message ingestion at high rates: a minimal Redis Streams client ([`resp`]) that reads
//! `XREADGROUP` replies straight into Arrow arrays, and a msgpack → Arrow decoder
//! ([`msgpack`]) driven by a declared schema.

pub mod msgpack;
pub mod resp;

#[cfg(test)]
mod tests;
