//! Store-level tests: reads after flush/compaction/reopen, bitemporal reads, history, retention.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use minide_kv::{Db, Options, Retention, SyncMode};

static N: AtomicUsize = AtomicUsize::new(0);

fn tmpdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "minide-kv-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn small() -> Options {
    Options {
        sync: SyncMode::None,
        memtable_size: 16 << 10,
        block_size: 512,
        target_file_size: 8 << 10,
        level1_bytes: 32 << 10,
        ..Options::default()
    }
}

#[test]
fn put_get_across_flush_compact_reopen() {
    let dir = tmpdir();
    let db = Db::open(&dir, small()).expect("open");
    let mut stamps = Vec::new();
    for round in 0..3u32 {
        for i in 0..500u32 {
            let k = format!("key{i:04}");
            let v = format!("v{round}-{i}");
            stamps.push(db.put(k.as_bytes(), v.as_bytes(), None, None).expect("put"));
        }
    }
    db.delete(b"key0007", None, None).expect("delete");
    assert!(stamps.windows(2).all(|w| w[0] < w[1]));
    let check = |db: &Db| {
        assert_eq!(
            db.get(b"key0001", None, None).expect("get"),
            Some(b"v2-1".to_vec())
        );
        assert_eq!(db.get(b"key0007", None, None).expect("get"), None);
        assert_eq!(
            db.get(b"key0007", Some(stamps[1007]), None).expect("get"),
            Some(b"v2-7".to_vec())
        );
        assert_eq!(
            db.get(b"key0001", Some(stamps[501]), None).expect("get"),
            Some(b"v1-1".to_vec())
        );
        assert_eq!(
            db.get(b"key0001", Some(stamps[0]), None).expect("get"),
            None
        );
        assert_eq!(db.get(b"nope", None, None).expect("get"), None);
        let rows = db
            .scan_chunk(None, false, None, db.last_ts(), None, 10_000)
            .expect("scan");
        assert_eq!(rows.len(), 499);
        let h = db.history(b"key0001").expect("history");
        assert_eq!(h.len(), 3);
        assert_eq!(h[0].system_to, Some(h[1].system_from));
        assert_eq!(h[2].system_to, None);
    };
    check(&db);
    db.flush().expect("flush");
    check(&db);
    db.compact().expect("compact");
    check(&db);
    db.close().expect("close");
    assert!(db.get(b"key0001", None, None).is_err());
    let db = Db::open(&dir, small()).expect("reopen");
    check(&db);
    let last = db.last_ts();
    assert!(db.put(b"x", b"y", None, None).expect("put") > last);
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bitemporal_reads() {
    let dir = tmpdir();
    let db = Db::open(&dir, small()).expect("open");
    let t1 = db.put(b"price", b"10", Some(0), None).expect("put");
    let t2 = db.put(b"price", b"12", Some(100), None).expect("put");
    // Correction: in [50, 100) it was actually 11.
    let t3 = db.put(b"price", b"11", Some(50), Some(100)).expect("put");
    let g = |as_of, at| db.get(b"price", Some(as_of), Some(at)).expect("get");
    assert_eq!(g(t1, 60), Some(b"10".to_vec()));
    assert_eq!(g(t2, 60), Some(b"10".to_vec()));
    assert_eq!(g(t3, 60), Some(b"11".to_vec()));
    assert_eq!(g(t3, 150), Some(b"12".to_vec()));
    assert_eq!(g(t3, -5), None);
    db.delete(b"price", Some(0), Some(10)).expect("delete");
    assert_eq!(db.get(b"price", None, Some(5)).expect("get"), None);
    assert_eq!(
        db.get(b"price", None, Some(20)).expect("get"),
        Some(b"10".to_vec())
    );
    let h = db.history(b"price").expect("history");
    assert_eq!(h.len(), 4);
    assert_eq!(h[0].system_to, None, "[0, inf) is never fully covered");
    db.flush().expect("flush");
    assert_eq!(
        db.get(b"price", Some(t3), Some(60)).expect("get"),
        Some(b"11".to_vec())
    );
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn retention_versions_drops_old_versions_but_not_snapshots() {
    let dir = tmpdir();
    let opts = Options {
        retention: Retention::Versions(2),
        ..small()
    };
    let db = Db::open(&dir, opts).expect("open");
    let mut ts = Vec::new();
    for i in 0..10u32 {
        ts.push(
            db.put(b"k", format!("v{i}").as_bytes(), None, None)
                .expect("put"),
        );
        if i == 3 {
            let s = db.snapshot().expect("snap");
            std::mem::forget(s); // pinned for the rest of the test
        }
    }
    db.compact().expect("compact");
    let h = db.history(b"k").expect("history");
    let kept: Vec<u64> = h.iter().map(|e| e.system_from).collect();
    assert_eq!(kept, vec![ts[3], ts[8], ts[9]]);
    assert_eq!(
        db.get(b"k", Some(ts[3]), None).expect("get"),
        Some(b"v3".to_vec())
    );
    assert_eq!(
        db.get(b"k", Some(ts[8]), None).expect("get"),
        Some(b"v8".to_vec())
    );
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn batch_is_atomic_and_background_compaction_keeps_data() {
    let dir = tmpdir();
    let db = Db::open(&dir, small()).expect("open");
    for b in 0..200u32 {
        let ops = (0..50u32)
            .map(|i| minide_kv::Op {
                key: format!("k{:05}", (b * 7919 + i * 104_729) % 20_000).into_bytes(),
                value: Some(format!("b{b}i{i}").into_bytes()),
                valid_from: None,
                valid_to: None,
            })
            .collect();
        db.write(ops).expect("write");
    }
    db.flush().expect("flush");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let stats: std::collections::HashMap<_, _> = db.stats().expect("stats").into_iter().collect();
    assert!(stats["sst_files"] > 1);
    let rows = db
        .scan_chunk(None, false, None, db.last_ts(), None, usize::MAX)
        .expect("scan");
    let distinct: std::collections::BTreeSet<String> = (0..200u32)
        .flat_map(|b| (0..50u32).map(move |i| format!("k{:05}", (b * 7919 + i * 104_729) % 20_000)))
        .collect();
    assert_eq!(rows.len(), distinct.len());
    let s = minide_kv::inspect::inspect(&dir).expect("inspect");
    assert!(s.contains("level"), "{s}");
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_directory_opens_once() {
    let dir = tmpdir();
    let db = Db::open(&dir, small()).expect("open");
    assert!(
        Db::open(&dir, small()).is_err(),
        "second open must fail while the first is open"
    );
    db.close().expect("close");
    let again = Db::open(&dir, small()).expect("reopen after close");
    drop(again);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn readers_never_see_half_a_batch() {
    let dir = tmpdir();
    let db = std::sync::Arc::new(Db::open(&dir, small()).expect("open"));
    let keys: Vec<Vec<u8>> = (0..10u32)
        .map(|i| format!("acct{i}").into_bytes())
        .collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..3u32)
        .map(|w| {
            let (db, keys) = (db.clone(), keys.clone());
            std::thread::spawn(move || {
                for round in 0..150u32 {
                    let v = format!("w{w}r{round}").into_bytes();
                    let ops = keys
                        .iter()
                        .map(|k| minide_kv::Op {
                            key: k.clone(),
                            value: Some(v.clone()),
                            valid_from: None,
                            valid_to: None,
                        })
                        .collect();
                    db.write(ops).expect("write");
                }
            })
        })
        .collect();
    let reader = {
        let (db, keys, stop) = (db.clone(), keys.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut checks = 0;
            while !stop.load(Ordering::SeqCst) {
                let ts = db.last_ts();
                let vals = db.get_many(&keys, Some(ts), None).expect("get_many");
                assert!(
                    vals.windows(2).all(|w| w[0] == w[1]),
                    "torn batch at {ts}: {vals:?}"
                );
                checks += 1;
            }
            checks
        })
    };
    for w in writers {
        w.join().expect("writer");
    }
    stop.store(true, Ordering::SeqCst);
    assert!(reader.join().expect("reader") > 0);
    // Every batch got its own timestamp and the history is complete.
    assert_eq!(db.history(b"acct3").expect("history").len(), 450);
    db.close().expect("close");
    let _ = std::fs::remove_dir_all(&dir);
}
