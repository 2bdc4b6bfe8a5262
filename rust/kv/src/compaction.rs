//! Flush (memtable -> level-0 table) and leveled compaction with version GC.
//!
//! - **Flush**: the background thread writes the oldest immutable memtable as a new L0 table,
//!   installs it in a new version, records it in the manifest (with the new `log_number`, so the
//!   WAL that held those writes is no longer needed) and deletes that WAL.
//! - **Compaction** (background thread, one at a time):
//!   - when L0 has `l0_compaction_trigger` tables, all of them plus the overlapping L1 tables are
//!     merged into L1;
//!   - when level `i >= 1` holds more than `level1_bytes * 10^(i-1)`, one of its tables (taken
//!     round-robin through the key space) plus the overlapping tables of level `i + 1` are merged
//!     into level `i + 1`.
//! - [`Inner::compact_all`] (`db.compact()`) merges every table into one run at the deepest level.
//!
//! Outputs are cut at `target_file_size`, but only between user keys, so the versions of one key
//! never straddle two tables of a level. While merging, the versions of each user key pass
//! through [`crate::bitemporal::retain`], which drops what the retention policy allows and no live
//! snapshot or as-of horizon can see.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use minide_common::Result;

use crate::bitemporal::{self, Retention};
use crate::cache::BlockCache;
use crate::db::{Inner, SuperVersion};
use crate::hlc;
use crate::iterators::merge::MergeIter;
use crate::iterators::{BoxIter, InternalIterator};
use crate::manifest;
use crate::memtable::MemTable;
use crate::mvcc;
use crate::options::Options;
use crate::sst::builder::TableBuilder;
use crate::sst::iter::TableIter;
use crate::sst::table::Table;
use crate::version::{NUM_LEVELS, Version, largest_user, smallest_user};

/// Write a memtable as table `number` and open it.
pub fn build_table(
    dir: &Path,
    opts: &Options,
    cache: &Arc<BlockCache>,
    number: u64,
    mem: &MemTable,
) -> Result<Table> {
    let path = manifest::table_path(dir, number);
    let mut b = TableBuilder::create(&path, opts.table())?;
    mem.for_each(|k, v| b.add(k, v))?;
    b.finish()?;
    Table::open(&path, number, Arc::clone(cache))
}

struct Job {
    /// (level, table) of every input, newest level first.
    inputs: Vec<(usize, Arc<Table>)>,
    output_level: usize,
}

/// No table below `level` overlaps anything: the output holds the oldest data there is.
fn is_bottom(v: &Version, level: usize) -> bool {
    v.levels.iter().skip(level + 1).all(Vec::is_empty)
}

impl Inner {
    pub(crate) fn flush_oldest(&self) -> Result<()> {
        let Some(mem) = self.current().imm.last().cloned() else {
            return Ok(());
        };
        let number = {
            let mut st = self.state.lock();
            st.next_file += 1;
            st.next_file - 1
        };
        let table = if mem.is_empty() {
            None
        } else {
            Some(Arc::new(build_table(
                &self.dir,
                &self.opts,
                &self.cache,
                number,
                &mem,
            )?))
        };
        let mut st = self.state.lock();
        let cur = self.current();
        let mut version = (*cur.version).clone();
        if let Some(t) = table {
            version.levels[0].insert(0, t);
        }
        let imm: Vec<_> = cur
            .imm
            .iter()
            .filter(|m| !Arc::ptr_eq(m, &mem))
            .cloned()
            .collect();
        let old_log = st.log_number;
        st.log_number = imm.last().map_or(cur.mem.wal_number, |m| m.wal_number);
        self.store_manifest(&st, &version)?;
        *self.sv.write() = Arc::new(SuperVersion {
            mem: Arc::clone(&cur.mem),
            imm,
            version: Arc::new(version),
        });
        let new_log = st.log_number;
        self.counters.flushes.fetch_add(1, Ordering::Relaxed);
        self.state_cv.notify_all();
        drop(st);
        for n in old_log..new_log {
            let _ = std::fs::remove_file(manifest::wal_path(&self.dir, n));
        }
        Ok(())
    }

    fn level_limit(&self, level: usize) -> u64 {
        self.opts
            .level1_bytes
            .saturating_mul(10u64.saturating_pow(level.saturating_sub(1) as u32))
    }

    pub(crate) fn needs_compaction(&self) -> bool {
        let v = self.current().version.clone();
        v.levels[0].len() >= self.opts.l0_compaction_trigger
            || (1..NUM_LEVELS - 1).any(|l| v.level_bytes(l) > self.level_limit(l))
    }

    fn pick(&self, v: &Version) -> Option<Job> {
        if v.levels[0].len() >= self.opts.l0_compaction_trigger {
            let l0 = &v.levels[0];
            let lo = l0.iter().map(|t| smallest_user(t)).min()?.to_vec();
            let hi = l0.iter().map(|t| largest_user(t)).max()?.to_vec();
            let mut inputs: Vec<_> = l0.iter().map(|t| (0, Arc::clone(t))).collect();
            inputs.extend(v.overlapping(1, &lo, &hi).into_iter().map(|t| (1, t)));
            return Some(Job {
                inputs,
                output_level: 1,
            });
        }
        for level in 1..NUM_LEVELS - 1 {
            if v.level_bytes(level) <= self.level_limit(level) {
                continue;
            }
            let pointer = self.state.lock().compact_pointer[level].clone();
            let tables = &v.levels[level];
            let t = tables
                .iter()
                .find(|t| smallest_user(t) > pointer.as_slice())
                .or_else(|| tables.first())?;
            let mut inputs = vec![(level, Arc::clone(t))];
            inputs.extend(
                v.overlapping(level + 1, smallest_user(t), largest_user(t))
                    .into_iter()
                    .map(|t| (level + 1, t)),
            );
            self.state.lock().compact_pointer[level] = largest_user(t).to_vec();
            return Some(Job {
                inputs,
                output_level: level + 1,
            });
        }
        None
    }

    pub(crate) fn compact_background(&self) -> Result<()> {
        let _guard = self.compaction_lock.lock();
        let v = self.current().version.clone();
        match self.pick(&v) {
            Some(job) => self.run(job),
            None => Ok(()),
        }
    }

    pub(crate) fn compact_all(&self) -> Result<()> {
        let _guard = self.compaction_lock.lock();
        let v = self.current().version.clone();
        let inputs: Vec<(usize, Arc<Table>)> = v
            .levels
            .iter()
            .enumerate()
            .flat_map(|(l, ts)| ts.iter().map(move |t| (l, Arc::clone(t))))
            .collect();
        if inputs.is_empty() {
            return Ok(());
        }
        let output_level = v
            .levels
            .iter()
            .rposition(|l| !l.is_empty())
            .unwrap_or(1)
            .max(1);
        self.run(Job {
            inputs,
            output_level,
        })
    }

    fn run(&self, job: Job) -> Result<()> {
        let sources: Vec<BoxIter> = job
            .inputs
            .iter()
            .map(|(_, t)| Box::new(TableIter::new(Arc::clone(t))) as BoxIter)
            .collect();
        let mut it = MergeIter::new(sources);
        it.seek_to_first()?;
        let retention = self.opts.retention;
        let horizon = match retention {
            Retention::MaxAgeMillis(age) => {
                hlc::ts_at_millis(hlc::wall_millis().saturating_sub(age))
            }
            _ => 0,
        };
        let snapshots = self.live_snapshots();
        let bottom = is_bottom(&self.current().version, job.output_level);
        let mut outputs: Vec<Arc<Table>> = Vec::new();
        let mut builder: Option<(u64, TableBuilder)> = None;
        let mut group: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut dropped = 0u64;
        let bytes_in: u64 = job.inputs.iter().map(|(_, t)| t.size).sum();
        loop {
            let at_end = !it.valid();
            let boundary = at_end
                || group
                    .first()
                    .is_some_and(|(k, _)| mvcc::user_part(k) != mvcc::user_part(it.key()));
            if boundary && !group.is_empty() {
                let keep = if retention == Retention::All {
                    vec![true; group.len()]
                } else {
                    let mut vs = Vec::with_capacity(group.len());
                    for (k, v) in &group {
                        let (_, ts, _) = mvcc::split(k)?;
                        vs.push((ts, mvcc::decode_value(v)?.0));
                    }
                    bitemporal::retain(&vs, retention, horizon, &snapshots, bottom)
                };
                // Cut output files only here, between user keys.
                if builder
                    .as_ref()
                    .is_some_and(|(_, b)| b.estimated_size() >= self.opts.target_file_size)
                    && let Some((n, b)) = builder.take()
                {
                    outputs.push(self.finish_output(n, b)?);
                }
                for ((k, v), keep) in group.drain(..).zip(keep) {
                    if !keep {
                        dropped += 1;
                        continue;
                    }
                    if builder.is_none() {
                        let n = {
                            let mut st = self.state.lock();
                            st.next_file += 1;
                            st.next_file - 1
                        };
                        let path = manifest::table_path(&self.dir, n);
                        builder = Some((n, TableBuilder::create(&path, self.opts.table())?));
                    }
                    if let Some((_, b)) = builder.as_mut() {
                        b.add(&k, &v)?;
                    }
                }
            }
            if at_end {
                break;
            }
            group.push((it.key().to_vec(), it.value().to_vec()));
            it.next()?;
        }
        if let Some((n, b)) = builder.take() {
            outputs.push(self.finish_output(n, b)?);
        }
        let bytes_out: u64 = outputs.iter().map(|t| t.size).sum();
        self.install(&job, outputs)?;
        self.counters.compactions.fetch_add(1, Ordering::Relaxed);
        self.counters
            .compaction_bytes_in
            .fetch_add(bytes_in, Ordering::Relaxed);
        self.counters
            .compaction_bytes_out
            .fetch_add(bytes_out, Ordering::Relaxed);
        self.counters
            .versions_dropped
            .fetch_add(dropped, Ordering::Relaxed);
        Ok(())
    }

    fn finish_output(&self, number: u64, b: TableBuilder) -> Result<Arc<Table>> {
        b.finish()?;
        let path = manifest::table_path(&self.dir, number);
        Ok(Arc::new(Table::open(
            &path,
            number,
            Arc::clone(&self.cache),
        )?))
    }

    fn install(&self, job: &Job, outputs: Vec<Arc<Table>>) -> Result<()> {
        let st = self.state.lock();
        let cur = self.current();
        let mut version = (*cur.version).clone();
        let gone: std::collections::HashSet<u64> =
            job.inputs.iter().map(|(_, t)| t.number).collect();
        for level in version.levels.iter_mut() {
            level.retain(|t| !gone.contains(&t.number));
        }
        let out = &mut version.levels[job.output_level];
        out.extend(outputs);
        out.sort_by(|a, b| a.props.smallest.cmp(&b.props.smallest));
        self.store_manifest(&st, &version)?;
        *self.sv.write() = Arc::new(SuperVersion {
            mem: Arc::clone(&cur.mem),
            imm: cur.imm.clone(),
            version: Arc::new(version),
        });
        drop(st);
        for n in gone {
            self.cache.evict_file(n);
            let _ = std::fs::remove_file(manifest::table_path(&self.dir, n));
        }
        Ok(())
    }
}
