//! minide's durable log: partitioned, segmented, CRC-framed records, consumer-group offsets.
//!
//! ```text
//!  <dir>/log.meta                 envelope (kind 4): partition count
//!  <dir>/p<N>/<base>.log|.idx     segments of partition N (see segment.rs, record.rs)
//!  <dir>/groups/<group>.offsets   envelope (kind 2): committed offset per partition,
//!                                 replaced atomically (temp file + fsync + rename)
//! ```
//!
//! `append` hashes the key columns (xxh3-128, as the dedup keys) to pick each row's partition,
//! writes one record per touched partition and, with `fsync = true` (the default), calls
//! `fdatasync` on each before returning: returned offsets survive a crash of the process or the
//! machine. With `fsync = false` they survive a process crash (the page cache keeps them) but not
//! a power loss. One writer process at a time.

pub mod partition;
pub mod record;
pub mod segment;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use arrow_array::RecordBatch;
use minide_common::durable;
use minide_common::{Error, Result};

use crate::checkpoint::{self, Kind, Reader, Writer};
use crate::keyhash::{self, Keys};
use partition::Partition;

#[derive(Debug, Clone)]
pub struct LogOptions {
    pub partitions: u32,
    pub retention_bytes: Option<u64>,
    pub retention_ms: Option<i64>,
    pub segment_bytes: u64,
    pub fsync: bool,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            partitions: 4,
            retention_bytes: None,
            retention_ms: None,
            segment_bytes: 64 << 20,
            fsync: true,
        }
    }
}

#[derive(Debug)]
pub struct Log {
    dir: PathBuf,
    opts: LogOptions,
    parts: Vec<Partition>,
    round_robin: u64,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn check_group(group: &str) -> Result<()> {
    if group.is_empty()
        || group.len() > 200
        || !group
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || group.starts_with('.')
    {
        return Err(Error::invalid(format!(
            "consumer group {group:?}: use letters, digits, '-', '_' and '.'"
        )));
    }
    Ok(())
}

impl Log {
    /// Open or create the log in `dir`; an existing log must have `opts.partitions` partitions.
    pub fn open(dir: &Path, opts: LogOptions) -> Result<Log> {
        if opts.partitions == 0 || opts.partitions > 4096 {
            return Err(Error::invalid(format!(
                "partitions must be in 1..=4096, got {}",
                opts.partitions
            )));
        }
        fs::create_dir_all(dir).map_err(|e| Error::io(e, dir))?;
        let meta = dir.join("log.meta");
        match fs::read(&meta) {
            Ok(bytes) => {
                let payload =
                    checkpoint::open(&bytes, Kind::LogMeta).map_err(|e| e.at_path(&meta))?;
                let mut r = Reader::new(payload, "log meta");
                let n = r.u32()?;
                if n != opts.partitions {
                    return Err(Error::invalid(format!(
                        "log {} has {n} partitions, opened with partitions={}",
                        dir.display(),
                        opts.partitions
                    )));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut w = Writer::default();
                w.u32(opts.partitions);
                durable::write_atomic(&meta, &checkpoint::seal(Kind::LogMeta, &w.buf))?;
            }
            Err(e) => return Err(Error::io(e, &meta)),
        }
        let parts = (0..opts.partitions)
            .map(|p| Partition::open(&dir.join(format!("p{p}")), opts.segment_bytes))
            .collect::<Result<Vec<_>>>()?;
        let mut log = Log {
            dir: dir.to_path_buf(),
            opts,
            parts,
            round_robin: 0,
        };
        log.apply_retention()?;
        Ok(log)
    }

    pub fn partitions(&self) -> u32 {
        self.opts.partitions
    }

    fn part(&self, p: u32) -> Result<&Partition> {
        self.parts.get(p as usize).ok_or_else(|| {
            Error::invalid(format!(
                "partition {p} does not exist (the log has {})",
                self.parts.len()
            ))
        })
    }

    /// Append a batch; returns `(partition, offset)` of every row, in input order.
    pub fn append(&mut self, batch: &RecordBatch, key: &[String]) -> Result<Vec<(u32, u64)>> {
        record::check_schema(&batch.schema())?;
        let n = batch.num_rows();
        let np = self.opts.partitions as usize;
        let assignment: Vec<u32> = if key.is_empty() {
            let p = (self.round_robin % np as u64) as u32;
            self.round_robin += 1;
            vec![p; n]
        } else {
            let (cols, _) = keyhash::key_columns(batch, key, &[])?;
            match keyhash::compute_keys(&cols, false)? {
                Keys::Hashed(h) => h.iter().map(|h| (h[0] % np as u64) as u32).collect(),
                Keys::Int { .. } => unreachable!("compute_keys(.., false) hashes"),
            }
        };
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); np];
        for (i, &p) in assignment.iter().enumerate() {
            rows[p as usize].push(i as u32);
        }
        let now = now_ms();
        let mut base = vec![0u64; np];
        for (p, r) in rows.iter().enumerate() {
            if !r.is_empty() {
                base[p] = self.parts[p].append(batch, r, now, self.opts.fsync)?;
            }
        }
        let mut seen = vec![0u64; np];
        let out = assignment
            .iter()
            .map(|&p| {
                let o = base[p as usize] + seen[p as usize];
                seen[p as usize] += 1;
                (p, o)
            })
            .collect();
        self.apply_retention()?;
        Ok(out)
    }

    pub fn read(
        &self,
        partition: u32,
        offset: u64,
        max_rows: usize,
    ) -> Result<Option<RecordBatch>> {
        self.part(partition)?.read(offset, max_rows)
    }

    /// Cut every partition back to `offsets` (record boundaries), see [`Partition::truncate`].
    pub fn truncate(&mut self, offsets: &[u64]) -> Result<()> {
        if offsets.len() != self.parts.len() {
            return Err(Error::invalid(format!(
                "truncate needs {} offsets (one per partition), got {}",
                self.parts.len(),
                offsets.len()
            )));
        }
        for (p, &o) in self.parts.iter_mut().zip(offsets) {
            p.truncate(o)?;
        }
        Ok(())
    }

    pub fn start_offsets(&self) -> Vec<u64> {
        self.parts.iter().map(Partition::start_offset).collect()
    }

    pub fn end_offsets(&self) -> Vec<u64> {
        self.parts.iter().map(Partition::end_offset).collect()
    }

    pub fn size_bytes(&self) -> u64 {
        self.parts.iter().map(Partition::size_bytes).sum()
    }

    pub fn segment_counts(&self) -> Vec<usize> {
        self.parts.iter().map(Partition::segment_count).collect()
    }

    /// fsync every partition's active segment (for `fsync = false` logs).
    pub fn sync(&mut self) -> Result<()> {
        self.parts.iter_mut().try_for_each(Partition::sync)
    }

    /// Delete old whole segments per the retention options; returns how many were deleted.
    pub fn apply_retention(&mut self) -> Result<usize> {
        let (bytes, ms) = (self.opts.retention_bytes, self.opts.retention_ms);
        if bytes.is_none() && ms.is_none() {
            return Ok(0);
        }
        let min_ms = ms.map(|m| now_ms().saturating_sub(m));
        let per_part = bytes.map(|b| b / u64::from(self.opts.partitions).max(1));
        let mut removed = 0;
        for p in &mut self.parts {
            removed += p.retain(per_part, min_ms)?;
        }
        Ok(removed)
    }

    fn group_path(&self, group: &str) -> Result<PathBuf> {
        check_group(group)?;
        Ok(self.dir.join("groups").join(format!("{group}.offsets")))
    }

    /// Atomically replace the committed offsets of `group` (one per partition).
    pub fn commit(&self, group: &str, offsets: &[u64]) -> Result<()> {
        if offsets.len() != self.parts.len() {
            return Err(Error::invalid(format!(
                "commit needs {} offsets (one per partition), got {}",
                self.parts.len(),
                offsets.len()
            )));
        }
        let ends = self.end_offsets();
        if let Some((p, (o, e))) = offsets
            .iter()
            .zip(&ends)
            .enumerate()
            .find(|(_, (o, e))| o > e)
        {
            return Err(Error::invalid(format!(
                "offset {o} for partition {p} is past its end {e}"
            )));
        }
        let path = self.group_path(group)?;
        fs::create_dir_all(self.dir.join("groups")).map_err(|e| Error::io(e, &self.dir))?;
        let mut w = Writer::default();
        w.u64(offsets.len() as u64);
        for o in offsets {
            w.u64(*o);
        }
        durable::write_atomic(&path, &checkpoint::seal(Kind::Offsets, &w.buf))
    }

    /// Committed offsets of `group`; a new group starts at each partition's earliest offset.
    pub fn committed(&self, group: &str) -> Result<Vec<u64>> {
        let path = self.group_path(group)?;
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(self.start_offsets()),
            Err(e) => return Err(Error::io(e, &path)),
        };
        let payload = checkpoint::open(&bytes, Kind::Offsets).map_err(|e| e.at_path(&path))?;
        let mut r = Reader::new(payload, "consumer offsets");
        let n = r.len(8)?;
        if n != self.parts.len() {
            return Err(Error::corrupt(format!(
                "{n} committed offsets for a log of {} partitions",
                self.parts.len()
            ))
            .at_path(&path));
        }
        let offsets = (0..n).map(|_| r.u64()).collect::<Result<Vec<_>>>()?;
        r.finish()?;
        // Retention may have deleted what a slow group had not read yet: resume at the earliest.
        Ok(offsets
            .into_iter()
            .zip(self.start_offsets())
            .map(|(o, s)| o.max(s))
            .collect())
    }
}

#[cfg(test)]
mod tests;
