//! The manifest: which tables make up the store, at which level, and the counters that must survive
//! a restart. It is rewritten whole on every change and replaced atomically with
//! [`minide_common::durable::write_atomic`]: write `MANIFEST.tmp`, fsync it, rename it over
//! `MANIFEST`, fsync the directory.
//!
//! ```text
//! manifest = magic "MNDKVMAN" | version u32 LE | body length u32 LE | masked crc32c(body) u32 LE
//!            | body
//! body     = next_file uvarint | log_number uvarint | max_ts uvarint | file count uvarint
//!            | file count x ( level uvarint | number uvarint | size uvarint | entries uvarint
//!                            | min_ts uvarint | max_ts uvarint
//!                            | smallest len uvarint | smallest | largest len uvarint | largest )
//! ```
//! `log_number`: WAL files numbered >= it still hold writes that are in no table. `max_ts`: the
//! commit-timestamp high-water mark, so the clock restarts above it.

use std::path::Path;

use minide_common::crc::{crc32c, mask, unmask};
use minide_common::durable;
use minide_common::varint::{get_uvarint, put_uvarint};
use minide_common::{Error, Result};

pub const MAGIC: &[u8; 8] = b"MNDKVMAN";
pub const VERSION: u32 = 1;
pub const FILE_NAME: &str = "MANIFEST";

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileMeta {
    pub level: u32,
    pub number: u64,
    pub size: u64,
    pub entries: u64,
    pub min_ts: u64,
    pub max_ts: u64,
    pub smallest: Vec<u8>,
    pub largest: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    pub next_file: u64,
    pub log_number: u64,
    pub max_ts: u64,
    pub files: Vec<FileMeta>,
}

impl Manifest {
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        for v in [
            self.next_file,
            self.log_number,
            self.max_ts,
            self.files.len() as u64,
        ] {
            put_uvarint(&mut body, v);
        }
        for f in &self.files {
            for v in [
                u64::from(f.level),
                f.number,
                f.size,
                f.entries,
                f.min_ts,
                f.max_ts,
            ] {
                put_uvarint(&mut body, v);
            }
            for k in [&f.smallest, &f.largest] {
                put_uvarint(&mut body, k.len() as u64);
                body.extend_from_slice(k);
            }
        }
        let mut out = Vec::with_capacity(body.len() + 20);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&mask(crc32c(&body)).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    pub fn decode(data: &[u8]) -> Result<Manifest> {
        let u32_at = |at: usize| -> Result<u32> {
            data.get(at..at + 4)
                .and_then(|s| s.try_into().ok())
                .map(u32::from_le_bytes)
                .ok_or_else(|| Error::corrupt("manifest header is truncated"))
        };
        if data.get(..8) != Some(MAGIC.as_slice()) {
            return Err(Error::corrupt("bad manifest magic"));
        }
        let version = u32_at(8)?;
        if version != VERSION {
            return Err(Error::corrupt(format!(
                "unknown manifest version {version}"
            )));
        }
        let len = u32_at(12)? as usize;
        let body = data
            .get(20..)
            .filter(|b| b.len() == len)
            .ok_or_else(|| Error::corrupt("manifest body length does not match the file"))?;
        if unmask(u32_at(16)?) != crc32c(body) {
            return Err(Error::corrupt("manifest checksum mismatch"));
        }
        let mut p = body;
        let num = |p: &mut &[u8]| -> Result<u64> {
            let (v, n) = get_uvarint(p)?;
            *p = &p[n..];
            Ok(v)
        };
        let next_file = num(&mut p)?;
        let log_number = num(&mut p)?;
        let max_ts = num(&mut p)?;
        let count = num(&mut p)?;
        let mut files = Vec::new();
        for _ in 0..count {
            let level = u32::try_from(num(&mut p)?)
                .map_err(|_| Error::corrupt("manifest level out of range"))?;
            let (number, size, entries) = (num(&mut p)?, num(&mut p)?, num(&mut p)?);
            let (min_ts, max_ts) = (num(&mut p)?, num(&mut p)?);
            let mut keys = [Vec::new(), Vec::new()];
            for k in keys.iter_mut() {
                let len = num(&mut p)? as usize;
                let bytes = p
                    .get(..len)
                    .ok_or_else(|| Error::corrupt("manifest key runs past the end"))?;
                *k = bytes.to_vec();
                p = &p[len..];
            }
            let [smallest, largest] = keys;
            files.push(FileMeta {
                level,
                number,
                size,
                entries,
                min_ts,
                max_ts,
                smallest,
                largest,
            });
        }
        if !p.is_empty() {
            return Err(Error::corrupt("trailing bytes in the manifest"));
        }
        Ok(Manifest {
            next_file,
            log_number,
            max_ts,
            files,
        })
    }

    /// Read `dir/MANIFEST`; `None` if there is none (a new store).
    pub fn load(dir: &Path) -> Result<Option<Manifest>> {
        let path = dir.join(FILE_NAME);
        match std::fs::read(&path) {
            Ok(data) => Manifest::decode(&data)
                .map(Some)
                .map_err(|e| e.at_path(&path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(e, &path)),
        }
    }

    /// Replace `dir/MANIFEST` atomically and durably.
    pub fn store(&self, dir: &Path) -> Result<()> {
        durable::write_atomic(&dir.join(FILE_NAME), &self.encode())
    }
}

pub fn table_path(dir: &Path, number: u64) -> std::path::PathBuf {
    dir.join(format!("{number:06}.sst"))
}

pub fn wal_path(dir: &Path, number: u64) -> std::path::PathBuf {
    dir.join(format!("{number:06}.wal"))
}

/// Numbers of the files in `dir` with extension `ext`, sorted.
pub fn list_numbered(dir: &Path, ext: &str) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(e, dir))? {
        let e = e.map_err(|e| Error::io(e, dir))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(stem) = name.strip_suffix(ext)
            && let Ok(n) = stem.parse::<u64>()
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_detects_flips() {
        let m = Manifest {
            next_file: 9,
            log_number: 7,
            max_ts: 123_456,
            files: vec![FileMeta {
                level: 1,
                number: 3,
                size: 4096,
                entries: 10,
                min_ts: 1,
                max_ts: 99,
                smallest: b"a".to_vec(),
                largest: b"z".to_vec(),
            }],
        };
        let enc = m.encode();
        assert_eq!(Manifest::decode(&enc).expect("decode"), m);
        for i in 0..enc.len() * 8 {
            let mut bad = enc.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(
                Manifest::decode(&bad).is_err(),
                "flip of bit {i} not detected"
            );
        }
    }
}
