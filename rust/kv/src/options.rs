//! Options of a store, as `kv.open` passes them.

use minide_common::{Error, Result};

use crate::bitemporal::Retention;
use crate::sst::Compression;
use crate::sst::builder::TableOptions;
use crate::wal::Recovery;

/// When a commit is forced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// fsync the WAL before a commit returns (concurrent commits share one fsync).
    Always,
    /// Write to the OS before returning; a background thread fsyncs every few milliseconds.
    Batch,
    /// Write to the OS before returning; fsync only on rotation and close.
    None,
}

impl SyncMode {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "always" => Ok(SyncMode::Always),
            "batch" => Ok(SyncMode::Batch),
            "none" => Ok(SyncMode::None),
            other => Err(Error::invalid(format!(
                "sync must be \"always\", \"batch\" or \"none\", got {other:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub sync: SyncMode,
    pub memtable_size: usize,
    pub block_size: usize,
    pub compression: Compression,
    pub bloom_bits_per_key: usize,
    pub retention: Retention,
    pub recovery: Recovery,
    pub block_cache_bytes: usize,
    /// Size at which compaction starts a new output table.
    pub target_file_size: u64,
    /// Bytes allowed in level 1; each deeper level allows 10x more.
    pub level1_bytes: u64,
    pub l0_compaction_trigger: usize,
    /// Milliseconds between WAL fsyncs under `SyncMode::Batch`.
    pub batch_sync_interval_ms: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sync: SyncMode::Batch,
            memtable_size: 64 << 20,
            block_size: 4096,
            compression: Compression::Zstd,
            bloom_bits_per_key: 10,
            retention: Retention::All,
            recovery: Recovery::Strict,
            block_cache_bytes: 64 << 20,
            target_file_size: 8 << 20,
            level1_bytes: 32 << 20,
            l0_compaction_trigger: 4,
            batch_sync_interval_ms: 5,
        }
    }
}

impl Options {
    pub fn validate(&self) -> Result<()> {
        if self.memtable_size < 4096 {
            return Err(Error::invalid(format!(
                "memtable_size must be at least 4096 bytes, got {}",
                self.memtable_size
            )));
        }
        if !(256..=(16 << 20)).contains(&self.block_size) {
            return Err(Error::invalid(format!(
                "block_size must be between 256 bytes and 16 MiB, got {}",
                self.block_size
            )));
        }
        if self.bloom_bits_per_key > 64 {
            return Err(Error::invalid(format!(
                "bloom_bits_per_key must be between 0 and 64, got {}",
                self.bloom_bits_per_key
            )));
        }
        Ok(())
    }

    pub fn table(&self) -> TableOptions {
        TableOptions {
            block_size: self.block_size,
            compression: self.compression,
            bloom_bits_per_key: self.bloom_bits_per_key,
        }
    }
}
