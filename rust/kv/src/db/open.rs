//! Opening the store: lock the directory, read the manifest, open the tables, replay the WAL
//! into memtables, and start the background threads. Split from `db.rs` (the write path).

use super::*;

impl Db {
    /// Open (or create) the store in `dir`, replaying the WAL.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Db> {
        opts.validate()?;
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(e, &dir))?;
        let lock = lock_dir(&dir)?;
        let cache = Arc::new(BlockCache::new(opts.block_cache_bytes));
        let man = Manifest::load(&dir)?.unwrap_or(Manifest {
            next_file: 1,
            ..Manifest::default()
        });
        let mut version = Version::default();
        let mut max_number = man.next_file;
        let mut max_ts = man.max_ts;
        for f in &man.files {
            let level = f.level as usize;
            if level >= NUM_LEVELS {
                return Err(Error::corrupt(format!("manifest names level {level}"))
                    .at_path(dir.join(manifest::FILE_NAME)));
            }
            let t = Table::open(
                &manifest::table_path(&dir, f.number),
                f.number,
                Arc::clone(&cache),
            )?;
            max_ts = max_ts.max(t.props.max_ts);
            max_number = max_number.max(f.number + 1);
            version.levels[level].push(Arc::new(t));
        }
        for level in version.levels.iter_mut().skip(1) {
            level.sort_by(|a, b| a.props.smallest.cmp(&b.props.smallest));
        }
        // L0: newest (highest number) first.
        version.levels[0].sort_by_key(|t| std::cmp::Reverse(t.number));

        // Replay the WAL files that still hold unflushed writes, oldest first.
        let wals: Vec<u64> = manifest::list_numbered(&dir, ".wal")?
            .into_iter()
            .filter(|&n| n >= man.log_number)
            .collect();
        let recovered = MemTable::new(0);
        let mut recovered_batches = 0u64;
        let mut hole: Option<(PathBuf, u64)> = None;
        for &n in &wals {
            max_number = max_number.max(n + 1);
            let path = manifest::wal_path(&dir, n);
            let log = wal::read_log(&path, opts.recovery)?;
            if let Some((hp, at)) = &hole {
                if !log.batches.is_empty() {
                    if opts.recovery == Recovery::Strict {
                        return Err(Error::corrupt(format!(
                            "WAL ends early at byte {at} but a later WAL ({}) has records: \
                             writes are missing in the middle",
                            path.display()
                        ))
                        .at_path(hp));
                    }
                    break;
                }
                continue;
            }
            for b in &log.batches {
                max_ts = max_ts.max(b.ts);
                recovered_batches += 1;
                let entries = b
                    .ops
                    .iter()
                    .map(|(seq, k, v)| (mvcc::internal_key(k, b.ts, *seq), v.clone()))
                    .collect();
                recovered.insert_many(entries);
            }
            match log.tail {
                Tail::Clean => {}
                Tail::Torn(at) | Tail::Corrupt(at) => hole = Some((path, at)),
            }
            if matches!(log.tail, Tail::Corrupt(_)) {
                break;
            }
        }

        let hlc = Hlc::new(max_ts);
        let mut next_file = max_number;
        // Fast path: nothing to recover and the live log is empty: keep appending to it.
        let reuse = recovered.is_empty()
            && wals.len() == 1
            && wals[0] == man.log_number
            && std::fs::metadata(manifest::wal_path(&dir, wals[0])).is_ok_and(|m| m.len() == 0);
        let (writer, wal_number) = if reuse {
            let n = wals[0];
            (LogWriter::open_append(manifest::wal_path(&dir, n), n)?, n)
        } else {
            let n = next_file;
            next_file += 1;
            let w = LogWriter::create(manifest::wal_path(&dir, n), n)?;
            minide_common::durable::sync_dir(&dir)?;
            if !recovered.is_empty() {
                let number = next_file;
                next_file += 1;
                let t = crate::compaction::build_table(&dir, &opts, &cache, number, &recovered)?;
                version.levels[0].insert(0, Arc::new(t));
            }
            let man = Manifest {
                next_file,
                log_number: n,
                max_ts: hlc.last(),
                files: version.file_metas(),
            };
            man.store(&dir)?;
            (w, n)
        };
        // Everything below the live log is in tables; drop obsolete files.
        let live: std::collections::HashSet<u64> =
            version.levels.iter().flatten().map(|t| t.number).collect();
        for n in manifest::list_numbered(&dir, ".wal")? {
            if n < wal_number {
                let _ = std::fs::remove_file(manifest::wal_path(&dir, n));
            }
        }
        for n in manifest::list_numbered(&dir, ".sst")? {
            if !live.contains(&n) {
                let _ = std::fs::remove_file(manifest::table_path(&dir, n));
            }
        }

        let visible = hlc.last();
        let inner = Arc::new(Inner {
            dir,
            hlc,
            queue: Mutex::new(VecDeque::new()),
            queue_cv: Condvar::new(),
            wal: Mutex::new(writer),
            wal_dirty: AtomicBool::new(false),
            visible: AtomicU64::new(visible),
            sv: RwLock::new(Arc::new(SuperVersion {
                mem: Arc::new(MemTable::new(wal_number)),
                imm: Vec::new(),
                version: Arc::new(version),
            })),
            state: Mutex::new(State {
                next_file,
                log_number: wal_number,
                shutdown: false,
                compact_pointer: vec![Vec::new(); NUM_LEVELS],
            }),
            state_cv: Condvar::new(),
            compaction_lock: Mutex::new(()),
            snapshots: Mutex::new(BTreeMap::new()),
            cache,
            closed: AtomicBool::new(false),
            bg_error: Mutex::new(None),
            failed: AtomicBool::new(false),
            counters: Counters::default(),
            opts,
        });
        inner
            .counters
            .recovered_batches
            .store(recovered_batches, Ordering::Relaxed);
        let mut threads = Vec::new();
        let bg = Arc::clone(&inner);
        threads.push(
            std::thread::Builder::new()
                .name("minide-kv-bg".into())
                .spawn(move || bg.background_loop())
                .map_err(|e| Error::io(e, &inner.dir))?,
        );
        if inner.opts.sync == SyncMode::Batch {
            let s = Arc::clone(&inner);
            threads.push(
                std::thread::Builder::new()
                    .name("minide-kv-sync".into())
                    .spawn(move || s.syncer_loop())
                    .map_err(|e| Error::io(e, &inner.dir))?,
            );
        }
        Ok(Db {
            inner,
            threads: Mutex::new(threads),
            lock: Mutex::new(Some(lock)),
        })
    }
}
