//! One segment file of a partition: framed records appended at the end, plus its index.
//!
//! ```text
//!  p0/00000000000000000000.log   frames [len|crc|payload] [len|crc|payload] ...
//!  p0/00000000000000000000.idx   (sealed segments) checkpoint envelope of index entries
//!                                 {base_offset u64, position u64, rows u32, append_ms i64}
//! ```
//!
//! Opening the active (last) segment scans it: a frame that runs past the end of the file, or a
//! bad CRC on the very last frame, is a torn write from a crash and is cut off (the file is
//! truncated and fsynced). A bad frame followed by more data is corruption: `Corrupt` error with
//! the file and byte offset. Sealed segments load their `.idx`, or are rescanned if it is missing
//! or damaged (the index is derived data).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use minide_common::durable;
use minide_common::{Error, Result};

use super::record::{self, FRAME_HEADER};
use crate::checkpoint::{self, Kind, Reader, Writer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    pub base_offset: u64,
    pub position: u64,
    pub rows: u32,
    pub append_ms: i64,
}

#[derive(Debug)]
pub struct Segment {
    pub base_offset: u64,
    pub path: PathBuf,
    pub size: u64,
    pub index: Vec<IndexEntry>,
    file: File,
}

pub fn log_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.log"))
}

fn idx_path(log: &Path) -> PathBuf {
    log.with_extension("idx")
}

impl Segment {
    pub fn create(dir: &Path, base_offset: u64) -> Result<Segment> {
        let path = log_path(dir, base_offset);
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(e, &path))?;
        durable::sync_dir(durable::parent_dir(&path))?;
        Ok(Segment {
            base_offset,
            path,
            size: 0,
            index: Vec::new(),
            file,
        })
    }

    /// Open an existing segment. `active`: the partition's last segment (torn tails allowed).
    pub fn open(path: PathBuf, base_offset: u64, active: bool) -> Result<Segment> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(e, &path))?;
        let size = file.metadata().map_err(|e| Error::io(e, &path))?.len();
        let mut seg = Segment {
            base_offset,
            path,
            size,
            index: Vec::new(),
            file,
        };
        if !active && let Some(index) = seg.load_index() {
            seg.index = index;
            return Ok(seg);
        }
        seg.scan(active)?;
        if !active {
            seg.write_index()?;
        }
        Ok(seg)
    }

    fn load_index(&self) -> Option<Vec<IndexEntry>> {
        let bytes = fs::read(idx_path(&self.path)).ok()?;
        let payload = checkpoint::open(&bytes, Kind::SegmentIndex).ok()?;
        let mut r = Reader::new(payload, "segment index");
        let size = r.u64().ok()?;
        let n = r.len(28).ok()?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(IndexEntry {
                base_offset: r.u64().ok()?,
                position: r.u64().ok()?,
                rows: r.u32().ok()?,
                append_ms: r.i64().ok()?,
            });
        }
        (size == self.size
            && out
                .first()
                .is_none_or(|e| e.base_offset == self.base_offset))
        .then_some(out)
    }

    /// Persist the index (when the segment is sealed).
    pub fn write_index(&self) -> Result<()> {
        let mut w = Writer::default();
        w.u64(self.size);
        w.u64(self.index.len() as u64);
        for e in &self.index {
            w.u64(e.base_offset);
            w.u64(e.position);
            w.u32(e.rows);
            w.i64(e.append_ms);
        }
        durable::write_atomic(
            &idx_path(&self.path),
            &checkpoint::seal(Kind::SegmentIndex, &w.buf),
        )
    }

    /// Rebuild the index by reading every frame; cut a torn tail if `active`.
    fn scan(&mut self, active: bool) -> Result<()> {
        let mut data = Vec::with_capacity(self.size as usize);
        let mut f = &self.file;
        f.read_to_end(&mut data)
            .map_err(|e| Error::io(e, &self.path))?;
        let mut pos = 0usize;
        let mut expected = self.base_offset;
        let mut index = Vec::new();
        let torn = loop {
            if pos == data.len() {
                break None;
            }
            let Some(h) = data.get(pos..pos + FRAME_HEADER) else {
                break Some("a frame header cut short");
            };
            let mut header = [0u8; FRAME_HEADER];
            header.copy_from_slice(h);
            let len = record::frame_len(&header) as usize;
            let end = pos + FRAME_HEADER + len;
            let Some(payload) = data.get(pos + FRAME_HEADER..end) else {
                break Some("a frame longer than the rest of the file");
            };
            if !record::check_frame(&header, payload) {
                if end == data.len() {
                    break Some("a bad checksum on the last frame");
                }
                return Err(Error::corrupt(
                    "log record checksum mismatch in the middle of a segment",
                )
                .at_path(&self.path)
                .at_offset(pos as u64));
            }
            let head =
                record::head(payload).map_err(|e| e.at_path(&self.path).at_offset(pos as u64))?;
            if head.base_offset != expected {
                return Err(Error::corrupt(format!(
                    "log record has offset {}, expected {expected}",
                    head.base_offset
                ))
                .at_path(&self.path)
                .at_offset(pos as u64));
            }
            index.push(IndexEntry {
                base_offset: head.base_offset,
                position: pos as u64,
                rows: head.rows,
                append_ms: head.append_ms,
            });
            expected += u64::from(head.rows);
            pos = end;
        };
        if let Some(why) = torn {
            if !active {
                return Err(Error::corrupt(format!("sealed segment ends with {why}"))
                    .at_path(&self.path)
                    .at_offset(pos as u64));
            }
            // A crash mid-append: drop the unacknowledged tail.
            self.file
                .set_len(pos as u64)
                .map_err(|e| Error::io(e, &self.path))?;
            self.file.sync_all().map_err(|e| Error::io(e, &self.path))?;
            self.size = pos as u64;
        }
        self.index = index;
        Ok(())
    }

    /// Append already framed records; `entries` are their index entries (positions relative to
    /// the start of `frames`).
    pub fn append(&mut self, frames: &[u8], entries: &[IndexEntry], sync: bool) -> Result<()> {
        let mut f = &self.file;
        // Write at the current end (the file handle is not in append mode: pwrite-like semantics).
        f.write_all_at(frames, self.size)
            .map_err(|e| Error::io(e, &self.path))?;
        if sync {
            f.sync_data().map_err(|e| Error::io(e, &self.path))?;
        }
        let _ = &mut f;
        for e in entries {
            self.index.push(IndexEntry {
                position: e.position + self.size,
                ..*e
            });
        }
        self.size += frames.len() as u64;
        Ok(())
    }

    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(|e| Error::io(e, &self.path))
    }

    pub fn end_offset(&self) -> u64 {
        self.index
            .last()
            .map_or(self.base_offset, |e| e.base_offset + u64::from(e.rows))
    }

    pub fn last_append_ms(&self) -> Option<i64> {
        self.index.last().map(|e| e.append_ms)
    }

    /// The verified payload of index entry `i`.
    pub fn payload(&self, i: usize) -> Result<Vec<u8>> {
        let e = self
            .index
            .get(i)
            .ok_or_else(|| Error::invalid("record index out of range"))?;
        let mut header = [0u8; FRAME_HEADER];
        self.file
            .read_exact_at(&mut header, e.position)
            .map_err(|err| {
                Error::corrupt(format!("cannot read frame header: {err}"))
                    .at_path(&self.path)
                    .at_offset(e.position)
            })?;
        let len = record::frame_len(&header) as usize;
        if e.position + (FRAME_HEADER + len) as u64 > self.size {
            return Err(Error::corrupt("frame runs past the end of the segment")
                .at_path(&self.path)
                .at_offset(e.position));
        }
        let mut payload = vec![0u8; len];
        self.file
            .read_exact_at(&mut payload, e.position + FRAME_HEADER as u64)
            .map_err(|err| Error::io(err, &self.path))?;
        if !record::check_frame(&header, &payload) {
            return Err(Error::corrupt("log record checksum mismatch")
                .at_path(&self.path)
                .at_offset(e.position));
        }
        Ok(payload)
    }

    /// Keep the first `records` records, cut the rest, fsync; the segment becomes active (its
    /// stale `.idx` is removed: active segments are scanned on open).
    pub fn truncate_at(&mut self, records: usize) -> Result<()> {
        let pos = self.index.get(records).map_or(self.size, |e| e.position);
        self.index.truncate(records);
        self.file
            .set_len(pos)
            .map_err(|e| Error::io(e, &self.path))?;
        self.file.sync_all().map_err(|e| Error::io(e, &self.path))?;
        self.size = pos;
        let idx = idx_path(&self.path);
        if idx.exists() {
            fs::remove_file(&idx).map_err(|e| Error::io(e, &idx))?;
        }
        Ok(())
    }

    /// Delete the segment's files.
    pub fn remove(self) -> Result<()> {
        let idx = idx_path(&self.path);
        drop(self.file);
        fs::remove_file(&self.path).map_err(|e| Error::io(e, &self.path))?;
        if idx.exists() {
            fs::remove_file(&idx).map_err(|e| Error::io(e, &idx))?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<()> {
        let mut f = &self.file;
        f.flush().map_err(|e| Error::io(e, &self.path))
    }
}
