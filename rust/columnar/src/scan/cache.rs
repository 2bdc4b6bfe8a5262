//! Open files with decoded footers, shared across scans: keyed by path and checked against
//! (size, mtime, inode) on every lookup, so a file rewritten since is opened afresh.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use minide_common::{Error, Result};

use crate::parquet::reader::ParquetFile;

/// Files kept open at most (the least useful half is dropped when full).
const CAPACITY: usize = 256;

type Version = (u64, i64, i64, u64);
type Entries = HashMap<PathBuf, (Version, Arc<ParquetFile>)>;

fn cache() -> &'static Mutex<Entries> {
    static CACHE: OnceLock<Mutex<Entries>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// (size, mtime seconds, mtime nanoseconds, inode) of `path`.
pub fn version(path: &Path) -> Result<Version> {
    let m = std::fs::metadata(path).map_err(|e| Error::io(e, path))?;
    Ok((m.size(), m.mtime(), m.mtime_nsec(), m.ino()))
}

/// The open file at `path`: from the cache when the file is unchanged, else opened (footer
/// parsed and validated) and cached.
pub fn open_cached(path: &Path) -> Result<Arc<ParquetFile>> {
    let v = version(path)?;
    if let Ok(c) = cache().lock()
        && let Some((have, pf)) = c.get(path)
        && *have == v
    {
        return Ok(pf.clone());
    }
    let pf = Arc::new(ParquetFile::open(path)?);
    if let Ok(mut c) = cache().lock() {
        if c.len() >= CAPACITY {
            let drop: Vec<PathBuf> = c.keys().take(CAPACITY / 2).cloned().collect();
            for k in drop {
                c.remove(&k);
            }
        }
        c.insert(path.to_path_buf(), (v, pf.clone()));
    }
    Ok(pf)
}
