//! `kv.inspect(path)`: a human-readable description of a store on disk, read without opening it
//! for writing (no WAL replay, nothing modified): manifest, levels, tables, key ranges, WAL files.

use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;

use minide_common::{Error, Result};

use crate::cache::BlockCache;
use crate::manifest::{self, Manifest};
use crate::mvcc;
use crate::sst::table::Table;
use crate::wal::{self, Recovery, Tail};

fn show_key(ikey: &[u8]) -> String {
    let Ok((user, ts, _)) = mvcc::split(ikey) else {
        return "<bad key>".into();
    };
    let user = mvcc::decode_user(user).unwrap_or_default();
    let text = match std::str::from_utf8(&user) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => format!("{s:?}"),
        _ => format!(
            "0x{}",
            user.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
    };
    format!("{text}@{ts}")
}

pub fn inspect(dir: &Path) -> Result<String> {
    let mut s = String::new();
    let man = Manifest::load(dir)?.ok_or_else(|| {
        Error::invalid(format!("{} holds no kv store (no MANIFEST)", dir.display()))
    })?;
    let _ = writeln!(s, "kv store {}", dir.display());
    let _ = writeln!(
        s,
        "manifest: next_file={} log_number={} max_ts={} tables={}",
        man.next_file,
        man.log_number,
        man.max_ts,
        man.files.len()
    );
    let cache = Arc::new(BlockCache::new(1 << 20));
    let mut total = (0u64, 0u64);
    for level in 0..crate::version::NUM_LEVELS as u32 {
        let mut files: Vec<_> = man.files.iter().filter(|f| f.level == level).collect();
        if files.is_empty() {
            continue;
        }
        files.sort_by(|a, b| a.smallest.cmp(&b.smallest));
        let bytes: u64 = files.iter().map(|f| f.size).sum();
        let versions: u64 = files.iter().map(|f| f.entries).sum();
        total = (total.0 + bytes, total.1 + versions);
        let _ = writeln!(
            s,
            "level {level}: {} tables, {bytes} bytes, {versions} versions",
            files.len()
        );
        for f in files {
            let path = manifest::table_path(dir, f.number);
            let detail = match Table::open(&path, f.number, Arc::clone(&cache)) {
                Ok(t) => format!(
                    "{} user keys, {} tombstones",
                    t.props.user_keys, t.props.tombstones
                ),
                Err(e) => format!("UNREADABLE: {e}"),
            };
            let _ = writeln!(
                s,
                "  {:06}.sst {} bytes, {} versions, ts {}..{}, keys {} .. {}, {detail}",
                f.number,
                f.size,
                f.entries,
                f.min_ts,
                f.max_ts,
                show_key(&f.smallest),
                show_key(&f.largest)
            );
        }
    }
    let _ = writeln!(s, "tables total: {} bytes, {} versions", total.0, total.1);
    for n in manifest::list_numbered(dir, ".wal")? {
        let path = manifest::wal_path(dir, n);
        let live = if n >= man.log_number {
            "live"
        } else {
            "obsolete"
        };
        match wal::read_log(&path, Recovery::StopAtCorruption) {
            Ok(log) => {
                let ops: usize = log.batches.iter().map(|b| b.ops.len()).sum();
                let tail = match log.tail {
                    Tail::Clean => "clean end".to_string(),
                    Tail::Torn(at) => format!("torn tail at byte {at}"),
                    Tail::Corrupt(at) => format!("CORRUPT record at byte {at}"),
                };
                let _ = writeln!(
                    s,
                    "wal {n:06}.wal ({live}): {} bytes, {} batches, {ops} writes, {tail}",
                    log.valid_len,
                    log.batches.len()
                );
            }
            Err(e) => {
                let _ = writeln!(s, "wal {n:06}.wal ({live}): UNREADABLE: {e}");
            }
        }
    }
    Ok(s)
}
