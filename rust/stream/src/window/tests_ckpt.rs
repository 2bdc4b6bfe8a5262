//! Checkpoint bytes: every flipped bit, truncation and well-sealed nonsense is an error, never
//! a panic or a wrong state.

use super::tests::{batch, config, kinds};
use super::*;
use crate::checkpoint::{self, Kind};

fn sample_checkpoint(kind: WindowKind) -> Vec<u8> {
    let mut op = WindowOperator::new(config(kind, 5), 2).unwrap();
    op.process(&batch(&[
        (Some(1), Some(0), Some(1)),
        (Some(2), Some(3), None),
        (None, Some(6), Some(-4)),
        (Some(1), Some(20), Some(7)),
    ]))
    .unwrap();
    op.checkpoint()
}

#[test]
fn every_corrupted_byte_and_truncation_is_an_error() {
    for kind in kinds() {
        let good = sample_checkpoint(kind);
        assert!(WindowOperator::restore(&good, 1).is_ok());
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0x04;
            assert!(
                WindowOperator::restore(&b, 1).is_err(),
                "flip at {i} not caught"
            );
        }
        for n in 0..good.len() {
            assert!(
                WindowOperator::restore(&good[..n], 1).is_err(),
                "cut at {n}"
            );
        }
    }
    // Another kind of stream checkpoint, and the old Python (msgpack) state.
    let other = checkpoint::seal(Kind::Dedup, b"x");
    let e = WindowOperator::restore(&other, 1).unwrap_err().to_string();
    assert!(e.contains("kind"), "{e}");
    let e = WindowOperator::restore(&[0x84, 0xa4, b'u', b'n'], 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("msgpack"), "{e}");
}

/// Payloads with a valid envelope but impossible contents: errors, never panics.
#[test]
fn well_sealed_nonsense_is_refused() {
    for kind in kinds() {
        let good = sample_checkpoint(kind);
        let payload = checkpoint::open(&good, Kind::Window).unwrap().to_vec();
        for i in 0..payload.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut p = payload.clone();
                p[i] ^= x;
                // Any outcome but a panic is acceptable here; most must be errors.
                let _ = WindowOperator::restore(&checkpoint::seal(Kind::Window, &p), 1);
            }
        }
        // Truncated and extended payloads.
        for n in 0..payload.len() {
            let sealed = checkpoint::seal(Kind::Window, &payload[..n]);
            assert!(
                WindowOperator::restore(&sealed, 1).is_err(),
                "payload cut at {n}"
            );
        }
        let mut long = payload.clone();
        long.push(0);
        assert!(WindowOperator::restore(&checkpoint::seal(Kind::Window, &long), 1).is_err());
        let mut v2 = payload.clone();
        v2[0] = 2;
        let e = WindowOperator::restore(&checkpoint::seal(Kind::Window, &v2), 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("version"), "{e}");
    }
}
