//! Durable file replacement: the one atomic write of minide.
//!
//! [`write_atomic`] replaces a file so that after a crash (process kill or power loss) the path
//! holds either the old bytes or the new ones, never a mix, and the new name is on disk once the
//! call returns:
//!
//! ```text
//!  1. write  <dir>/<name>.tmp      (created or truncated, same directory = same file system)
//!  2. fsync  <dir>/<name>.tmp      (the bytes are on disk before any name points at them)
//!  3. rename <name>.tmp -> <name>  (atomic on POSIX; replaces an existing <name>)
//!  4. fsync  <dir>                 (the rename itself, a directory entry, is on disk)
//! ```
//!
//! A crash between 1 and 3 leaves a stray `<name>.tmp` beside the untouched `<name>`; the next
//! write truncates and reuses it. Readers never open `.tmp` files.
//!
//! [`rename_durable`] is step 3 + 4 for files a caller wrote and fsynced itself (the stream
//! Parquet sink publishes several temp files per checkpoint, with one directory fsync).
//!
//! Users: the stream checkpoints and log metadata (rust/stream), the kv `MANIFEST` (rust/kv), the
//! Python stream pipeline checkpoint and Parquet sink (through `minide._core.write_atomic` /
//! `rename_durable`). Every error names the path it happened on.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The temp file [`write_atomic`] writes before renaming it over `path`: `<path>.tmp`.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name: OsString = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Replace `path` with `bytes` atomically and durably (temp file, fsync, rename, fsync of the
/// directory; see the module docs).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.file_name().is_none() {
        return Err(Error::invalid(format!(
            "{}: an atomic write needs a file path, not a directory",
            path.display()
        )));
    }
    let tmp = temp_path(path);
    {
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&tmp)
            .map_err(|e| Error::io(e, &tmp))?;
        f.write_all(bytes).map_err(|e| Error::io(e, &tmp))?;
        trace::note("write", &tmp);
        f.sync_all().map_err(|e| Error::io(e, &tmp))?;
        trace::note("fsync", &tmp);
    }
    rename_durable(&[(tmp, path.to_path_buf())])
}

/// Rename every `(from, to)` in order (each replacing an existing `to`), then fsync each
/// distinct directory holding a `to` once, so the new names survive power loss. The caller has
/// fsynced the files' contents.
pub fn rename_durable<P: AsRef<Path>, Q: AsRef<Path>>(renames: &[(P, Q)]) -> Result<()> {
    let mut dirs: Vec<&Path> = Vec::new();
    for (from, to) in renames {
        let (from, to) = (from.as_ref(), to.as_ref());
        std::fs::rename(from, to).map_err(|e| {
            Error::io(
                std::io::Error::new(
                    e.kind(),
                    format!("renaming {} over it failed: {e}", from.display()),
                ),
                to,
            )
        })?;
        trace::note("rename", to);
        let dir = parent_dir(to);
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs.into_iter().try_for_each(sync_dir)
}

/// fsync a directory, so that file creations, renames and removals in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(e, dir))?;
    trace::note("fsync", dir);
    Ok(())
}

/// fsync a file's contents and metadata (before a rename publishes it).
pub fn sync_file(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(e, path))?;
    trace::note("fsync", path);
    Ok(())
}

/// The unit tests record every completed step (per thread) to check the order of fsyncs and
/// renames; outside tests this compiles to nothing.
mod trace {
    #[cfg(test)]
    thread_local! {
        pub static STEPS: std::cell::RefCell<Vec<(&'static str, std::path::PathBuf)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }

    #[inline(always)]
    pub fn note(_step: &'static str, _path: &std::path::Path) {
        #[cfg(test)]
        STEPS.with(|s| s.borrow_mut().push((_step, _path.to_path_buf())));
    }

    #[cfg(test)]
    pub fn take() -> Vec<(&'static str, std::path::PathBuf)> {
        STEPS.with(|s| std::mem::take(&mut *s.borrow_mut()))
    }
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static N: AtomicU32 = AtomicU32::new(0);
            let p = std::env::temp_dir().join(format!(
                "minide-durable-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&p).expect("temp dir");
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_a_new_file_and_leaves_no_temp() {
        let d = TempDir::new();
        let p = d.0.join("state.ckpt");
        write_atomic(&p, b"first").expect("write");
        assert_eq!(std::fs::read(&p).expect("read"), b"first");
        assert_eq!(names(&d.0), vec!["state.ckpt"]);
    }

    #[test]
    fn rename_over_existing_replaces_it_whole() {
        let d = TempDir::new();
        let p = d.0.join("MANIFEST");
        write_atomic(&p, &[7u8; 10_000]).expect("write");
        write_atomic(&p, b"short").expect("rewrite");
        assert_eq!(std::fs::read(&p).expect("read"), b"short");
        assert_eq!(names(&d.0), vec!["MANIFEST"]);
    }

    #[test]
    fn a_stale_temp_from_a_crash_is_truncated_and_reused() {
        // A crash between the temp write and the rename leaves <name>.tmp with other bytes.
        let d = TempDir::new();
        let p = d.0.join("x");
        write_atomic(&p, b"old").expect("write");
        std::fs::write(temp_path(&p), vec![9u8; 4096]).expect("stale temp");
        write_atomic(&p, b"new").expect("write over a stale temp");
        assert_eq!(std::fs::read(&p).expect("read"), b"new");
        assert_eq!(names(&d.0), vec!["x"]);
    }

    #[test]
    fn bare_file_names_sync_the_current_directory() {
        assert_eq!(parent_dir(Path::new("MANIFEST")), Path::new("."));
        assert_eq!(parent_dir(Path::new("/a/b")), Path::new("/a"));
        sync_dir(parent_dir(Path::new("MANIFEST"))).expect("fsync of .");
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_temp_path() {
        let d = TempDir::new();
        let p = d.0.join("no-such-dir").join("f");
        let err = write_atomic(&p, b"x").expect_err("no directory");
        let msg = err.to_string();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        assert!(msg.contains("no-such-dir/f.tmp"), "{msg}");
    }

    #[test]
    fn directory_as_target_is_an_error_naming_it() {
        let d = TempDir::new();
        // Rename of a file over a non-empty directory fails: the message names the target.
        let target = d.0.join("taken");
        std::fs::create_dir(&target).expect("dir");
        std::fs::write(target.join("inside"), b"").expect("file");
        let err = write_atomic(&target, b"x").expect_err("rename over a directory");
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("{}: ", target.display())), "{msg}");
        assert!(msg.contains("taken.tmp"), "{msg}");
        // The temp file stays for the next attempt; the directory is untouched.
        assert!(target.join("inside").exists());
        let err = write_atomic(Path::new("/"), b"x").expect_err("root");
        assert!(err.to_string().contains("needs a file path"), "{err}");
    }

    #[test]
    fn rename_durable_publishes_several_files_and_reports_the_missing_one() {
        let d = TempDir::new();
        let (a, b) = (d.0.join(".a.tmp"), d.0.join(".b.tmp"));
        std::fs::write(&a, b"A").expect("a");
        std::fs::write(&b, b"B").expect("b");
        sync_file(&a).expect("fsync a");
        rename_durable(&[(&a, d.0.join("a")), (&b, d.0.join("b"))]).expect("renames");
        assert_eq!(names(&d.0), vec!["a", "b"]);
        let err = rename_durable(&[(&a, d.0.join("a2"))]).expect_err("source is gone");
        let msg = err.to_string();
        assert!(msg.contains(".a.tmp") && msg.contains("a2"), "{msg}");
        let err = sync_file(&a).expect_err("gone");
        assert!(err.to_string().contains(".a.tmp"), "{err}");
        let err = sync_dir(&d.0.join("nope")).expect_err("no dir");
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn steps_run_in_order_and_the_directory_is_fsynced_after_the_rename() {
        let d = TempDir::new();
        let p = d.0.join("pipeline.ckpt");
        let tmp = temp_path(&p);
        trace::take();
        write_atomic(&p, b"1").expect("write");
        assert_eq!(
            trace::take(),
            vec![
                ("write", tmp.clone()),
                ("fsync", tmp),
                ("rename", p.clone()),
                ("fsync", d.0.clone()),
            ]
        );
        // Several renames into one directory: one directory fsync, after the last rename.
        let sub = d.0.join("sub");
        std::fs::create_dir(&sub).expect("sub");
        for n in ["a", "b", "c"] {
            std::fs::write(d.0.join(n), n).expect("file");
        }
        rename_durable(&[
            (d.0.join("a"), d.0.join("A")),
            (d.0.join("b"), sub.join("B")),
            (d.0.join("c"), d.0.join("C")),
        ])
        .expect("renames");
        assert_eq!(
            trace::take(),
            vec![
                ("rename", d.0.join("A")),
                ("rename", sub.join("B")),
                ("rename", d.0.join("C")),
                ("fsync", d.0.clone()),
                ("fsync", sub),
            ]
        );
    }
}
