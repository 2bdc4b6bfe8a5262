use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, Int64Array, StringArray};

use super::*;

fn batch(start: i64, n: i64) -> RecordBatch {
    let ids: Vec<i64> = (start..start + n).collect();
    let users: Vec<String> = ids.iter().map(|i| format!("u{}", i % 50)).collect();
    RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
        ("user", Arc::new(StringArray::from(users)) as ArrayRef),
    ])
    .unwrap()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("minide-log-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    d
}

fn all_ids(log: &Log) -> Vec<i64> {
    let mut out = vec![];
    for p in 0..log.partitions() {
        let mut off = log.start_offsets()[p as usize];
        while let Some(b) = log.read(p, off, 3).unwrap() {
            off += b.num_rows() as u64;
            out.extend(b.column(0).as_primitive::<Int64Type>().values().iter());
        }
    }
    out.sort_unstable();
    out
}

#[test]
fn append_read_reopen_and_roll() {
    let dir = tmpdir("rt");
    let opts = LogOptions {
        partitions: 3,
        segment_bytes: 200,
        fsync: false,
        ..Default::default()
    };
    let mut log = Log::open(&dir, opts.clone()).unwrap();
    let mut acked = vec![];
    for i in 0..20 {
        acked.extend(log.append(&batch(i * 10, 10), &["user".into()]).unwrap());
    }
    assert_eq!(acked.len(), 200);
    assert_eq!(all_ids(&log), (0..200).collect::<Vec<_>>());
    assert!(log.segment_counts().iter().all(|&c| c > 1));
    // Same key → same partition.
    let b = batch(0, 100);
    let a = log.append(&b, &["user".into()]).unwrap();
    assert_eq!(a[0].0, a[50].0);
    drop(log);
    let log = Log::open(&dir, opts).unwrap();
    assert_eq!(all_ids(&log).len(), 300);
    log.commit("g1", &log.end_offsets()).unwrap();
    assert_eq!(log.committed("g1").unwrap(), log.end_offsets());
    assert_eq!(log.committed("new").unwrap(), vec![0, 0, 0]);
    assert!(log.commit("../x", &[0, 0, 0]).is_err());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn torn_tail_is_truncated_at_every_byte_and_middle_corruption_is_an_error() {
    let dir = tmpdir("torn");
    let opts = LogOptions {
        partitions: 1,
        fsync: false,
        ..Default::default()
    };
    let mut log = Log::open(&dir, opts.clone()).unwrap();
    log.append(&batch(0, 5), &[]).unwrap();
    let good = fs::metadata(dir.join("p0").join(format!("{:020}.log", 0)))
        .unwrap()
        .len();
    log.append(&batch(5, 5), &[]).unwrap();
    drop(log);
    let seg = dir.join("p0").join(format!("{:020}.log", 0));
    let full = fs::read(&seg).unwrap();
    for cut in good..full.len() as u64 {
        fs::write(&seg, &full[..cut as usize]).unwrap();
        let log = Log::open(&dir, opts.clone()).unwrap();
        assert_eq!(all_ids(&log), (0..5).collect::<Vec<_>>(), "cut at {cut}");
        assert_eq!(fs::metadata(&seg).unwrap().len(), good);
    }
    // A flipped byte in the first record, with a good record after it: corruption.
    let mut bad = full.clone();
    bad[20] ^= 0xff;
    fs::write(&seg, &bad).unwrap();
    let err = Log::open(&dir, opts).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn retention_deletes_whole_old_segments() {
    let dir = tmpdir("ret");
    let opts = LogOptions {
        partitions: 1,
        segment_bytes: 300,
        retention_bytes: Some(1000),
        fsync: false,
        ..Default::default()
    };
    let mut log = Log::open(&dir, opts).unwrap();
    for i in 0..40 {
        log.append(&batch(i * 10, 10), &[]).unwrap();
    }
    assert!(log.size_bytes() <= 1000 + 400, "{}", log.size_bytes());
    let start = log.start_offsets()[0];
    assert!(start > 0);
    assert!(log.read(0, start - 1, 10).is_err());
    let ids = all_ids(&log);
    assert_eq!(ids.first().copied(), Some(start as i64));
    assert_eq!(ids.last().copied(), Some(399));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncate_rolls_back_to_a_record_boundary() {
    let dir = tmpdir("trunc");
    let opts = LogOptions {
        partitions: 1,
        segment_bytes: 250,
        fsync: false,
        ..Default::default()
    };
    let mut log = Log::open(&dir, opts.clone()).unwrap();
    for i in 0..10 {
        log.append(&batch(i * 10, 10), &[]).unwrap();
    }
    let bases = log.parts[0].segment_bases();
    assert!(bases.len() > 2);
    assert!(log.truncate(&[35]).is_err(), "inside a record");
    // Exactly at a segment boundary: the previous sealed segment becomes the active one.
    log.truncate(&[bases[2]]).unwrap();
    assert_eq!(log.end_offsets(), vec![bases[2]]);
    assert_eq!(all_ids(&log), (0..bases[2] as i64).collect::<Vec<_>>());
    log.append(&batch(bases[2] as i64, 40), &[]).unwrap();
    log.truncate(&[bases[2] + 40]).unwrap();
    log.truncate(&[30]).unwrap();
    assert_eq!(log.end_offsets(), vec![30]);
    log.append(&batch(1000, 5), &[]).unwrap();
    drop(log);
    let log = Log::open(&dir, opts).unwrap();
    let ids = all_ids(&log);
    assert_eq!(ids.len(), 35);
    assert_eq!(ids[29], 29);
    assert_eq!(ids[30], 1000);
    fs::remove_dir_all(&dir).unwrap();
}
