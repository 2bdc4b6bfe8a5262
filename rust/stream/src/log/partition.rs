//! A partition: an ordered list of segments; only the last one is appended to.
//!
//! Offsets are dense per partition (0, 1, 2, ... one per row). A read finds the segment by
//! binary search on base offsets, then the record by binary search on the segment's index, and
//! decodes forward. Retention deletes whole sealed segments from the front.

use std::fs;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use minide_common::{Error, Result};

use super::record::{self, Collector};
use super::segment::{IndexEntry, Segment};

#[derive(Debug)]
pub struct Partition {
    pub dir: PathBuf,
    segments: Vec<Segment>,
    segment_bytes: u64,
}

impl Partition {
    pub fn open(dir: &Path, segment_bytes: u64) -> Result<Partition> {
        fs::create_dir_all(dir).map_err(|e| Error::io(e, dir))?;
        let mut bases = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| Error::io(e, dir))? {
            let entry = entry.map_err(|e| Error::io(e, dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(stem) = name.strip_suffix(".log")
                && let Ok(base) = stem.parse::<u64>()
            {
                bases.push((base, entry.path()));
            }
        }
        bases.sort();
        let n = bases.len();
        let mut segments = Vec::with_capacity(n.max(1));
        for (i, (base, path)) in bases.into_iter().enumerate() {
            let seg = Segment::open(path, base, i + 1 == n)?;
            if let Some(prev) = segments.last()
                && Segment::end_offset(prev) != base
            {
                return Err(Error::corrupt(format!(
                    "segment starts at offset {base} but the previous one ends at {}",
                    Segment::end_offset(prev)
                ))
                .at_path(&seg.path));
            }
            segments.push(seg);
        }
        if segments.is_empty() {
            segments.push(Segment::create(dir, 0)?);
        }
        Ok(Partition {
            dir: dir.to_path_buf(),
            segments,
            segment_bytes: segment_bytes.max(1),
        })
    }

    fn active(&mut self) -> &mut Segment {
        let last = self.segments.len() - 1;
        &mut self.segments[last]
    }

    pub fn start_offset(&self) -> u64 {
        self.segments.first().map_or(0, |s| s.base_offset)
    }

    pub fn end_offset(&self) -> u64 {
        self.segments.last().map_or(0, Segment::end_offset)
    }

    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.size).sum()
    }

    pub fn segment_bases(&self) -> Vec<u64> {
        self.segments.iter().map(|s| s.base_offset).collect()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Append `rows` of `batch` as one record; returns its first offset.
    pub fn append(
        &mut self,
        batch: &RecordBatch,
        rows: &[u32],
        now_ms: i64,
        sync: bool,
    ) -> Result<u64> {
        let base = self.end_offset();
        let payload = record::encode(batch, rows, base, now_ms)?;
        let mut frames = Vec::with_capacity(payload.len() + 8);
        record::frame(&payload, &mut frames);
        let entry = IndexEntry {
            base_offset: base,
            position: 0,
            rows: rows.len() as u32,
            append_ms: now_ms,
        };
        self.active().append(&frames, &[entry], sync)?;
        if self.active().size >= self.segment_bytes {
            self.roll()?;
        }
        Ok(base)
    }

    /// Seal the active segment (sync data, write its index) and start a new one.
    fn roll(&mut self) -> Result<()> {
        let end = self.end_offset();
        let active = self.active();
        active.sync()?;
        active.write_index()?;
        let seg = Segment::create(&self.dir, end)?;
        self.segments.push(seg);
        Ok(())
    }

    pub fn sync(&mut self) -> Result<()> {
        self.active().sync()
    }

    /// Up to `max_rows` rows from `offset`, stopping early where the schema changes.
    pub fn read(&self, offset: u64, max_rows: usize) -> Result<Option<RecordBatch>> {
        let (start, end) = (self.start_offset(), self.end_offset());
        if offset < start {
            return Err(Error::invalid(format!(
                "offset {offset} of {} was deleted by retention; the earliest offset is {start}",
                self.dir.display()
            )));
        }
        if offset >= end || max_rows == 0 {
            return Ok(None);
        }
        let mut seg_i = self
            .segments
            .partition_point(|s| s.base_offset <= offset)
            .saturating_sub(1);
        let mut collector: Option<Collector> = None;
        let mut next = offset;
        'outer: while let Some(seg) = self.segments.get(seg_i) {
            let mut rec_i = seg
                .index
                .partition_point(|e| e.base_offset <= next)
                .saturating_sub(1);
            while let Some(e) = seg.index.get(rec_i) {
                let payload = seg.payload(rec_i)?;
                let skip = next.saturating_sub(e.base_offset) as usize;
                let have = collector.as_ref().map_or(0, |c| c.rows);
                let take = (e.rows as usize).saturating_sub(skip).min(max_rows - have);
                if take > 0 {
                    if !Collector::add(&mut collector, &payload, skip, take)
                        .map_err(|err| err.at_path(&seg.path).at_offset(e.position))?
                    {
                        break 'outer;
                    }
                    next += take as u64;
                }
                if collector.as_ref().is_some_and(|c| c.rows >= max_rows) {
                    break 'outer;
                }
                rec_i += 1;
            }
            seg_i += 1;
        }
        collector.map(Collector::finish).transpose()
    }

    /// Cut the partition back to `offset` (a record boundary at or after the start): everything
    /// appended from `offset` on is removed. Used to roll back output written after the last
    /// checkpoint of a pipeline.
    pub fn truncate(&mut self, offset: u64) -> Result<()> {
        let end = self.end_offset();
        if offset >= end {
            return if offset == end {
                Ok(())
            } else {
                Err(Error::invalid(format!(
                    "cannot truncate {} to offset {offset}: it ends at {end}",
                    self.dir.display()
                )))
            };
        }
        if offset < self.start_offset() {
            return Err(Error::invalid(format!(
                "cannot truncate {} to offset {offset}: retention deleted it",
                self.dir.display()
            )));
        }
        while self.segments.len() > 1
            && self
                .segments
                .last()
                .is_some_and(|s| s.base_offset >= offset)
        {
            if let Some(seg) = self.segments.pop() {
                seg.remove()?;
            }
        }
        let active = self.active();
        if active.base_offset >= offset {
            active.truncate_at(0)?;
        } else {
            let i = active.index.partition_point(|e| e.base_offset < offset);
            let at_end = i == active.index.len() && active.end_offset() == offset;
            match active.index.get(i) {
                _ if at_end => active.truncate_at(i)?,
                Some(e) if e.base_offset == offset => active.truncate_at(i)?,
                _ => {
                    return Err(Error::invalid(format!(
                        "offset {offset} is inside a record of {}; truncate at a record boundary",
                        self.dir.display()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Delete whole sealed segments from the front while over `max_bytes` or older than `min_ms`.
    pub fn retain(&mut self, max_bytes: Option<u64>, min_ms: Option<i64>) -> Result<usize> {
        let mut removed = 0;
        while self.segments.len() > 1 {
            let too_big = max_bytes.is_some_and(|b| self.size_bytes() > b);
            let too_old = match (min_ms, self.segments[0].last_append_ms()) {
                (Some(limit), Some(last)) => last < limit,
                _ => false,
            };
            if !(too_big || too_old) {
                break;
            }
            self.segments.remove(0).remove()?;
            removed += 1;
        }
        Ok(removed)
    }
}
