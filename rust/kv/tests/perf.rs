//! Engine-only timing of point reads (no Python): `cargo test --release -p minide-kv --test perf
//! -- --ignored --nocapture`. Ignored by default: it measures, it does not check.

use std::time::Instant;

use minide_kv::{Db, Op, Options, SyncMode};

#[test]
#[ignore]
fn point_read_cost() {
    let dir = std::env::temp_dir().join(format!("minide-kv-perf-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Db::open(
        &dir,
        Options {
            sync: SyncMode::None,
            ..Options::default()
        },
    )
    .expect("open");
    let n = 200_000u64;
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut keys = Vec::new();
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut k = x.to_le_bytes().to_vec();
        k.extend_from_slice(&x.rotate_left(17).to_le_bytes());
        keys.push(k);
    }
    for chunk in keys.chunks(1000) {
        let ops = chunk
            .iter()
            .map(|k| Op {
                key: k.clone(),
                value: Some(vec![7u8; 100]),
                valid_from: None,
                valid_to: None,
            })
            .collect();
        db.write(ops).expect("write");
    }
    db.compact().expect("compact");
    for round in 0..3 {
        let t = Instant::now();
        let got = db.get_many(&keys, None, None).expect("get_many");
        let dt = t.elapsed();
        assert!(got.iter().all(Option::is_some));
        let t2 = Instant::now();
        for k in &keys {
            db.get(k, None, None).expect("get");
        }
        let dt2 = t2.elapsed();
        println!(
            "round {round}: get_many {:.0} ns/key, get {:.0} ns/key",
            dt.as_nanos() as f64 / n as f64,
            dt2.as_nanos() as f64 / n as f64
        );
    }
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
