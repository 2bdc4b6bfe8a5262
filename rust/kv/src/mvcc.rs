//! MVCC key and value encodings.
//!
//! Every stored version of a user key is one entry in the memtable and the SSTables:
//!
//! ```text
//! internal key = escaped(user key) 00 00 | !commit_ts (8 bytes BE) | !seq (2 bytes BE)
//! value        = flags (1 byte) | [valid_from zigzag varint] | [valid_to zigzag varint] | bytes
//! ```
//!
//! `escaped` is `minide_common::keyenc::put_bytes`, so a plain `memcmp` orders internal keys by
//! user key ascending, then commit timestamp **descending**, then batch sequence descending: a seek
//! to `(key, read_ts)` lands on the newest version visible at `read_ts`. `seq` numbers the writes
//! of one key inside one write batch (all share the batch's commit timestamp), so a batch may write
//! several valid-time slices of the same key; the later one in the batch wins where they overlap.
//! `flags`: bit 0 = tombstone, bit 1 = valid_from present, bit 2 = valid_to present.

use std::collections::HashMap;

use minide_common::keyenc;
use minide_common::varint::{get_varint, put_varint};
use minide_common::{Error, Result};

/// Bytes after the escaped user key: 8 (ts) + 2 (seq).
pub const SUFFIX_LEN: usize = 10;

const TOMBSTONE: u8 = 1;
const HAS_FROM: u8 = 2;
const HAS_TO: u8 = 4;

/// Escaped user key (with its terminator), the part of an internal key that names the user key.
pub fn user_prefix(user: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(user.len() + 2 + SUFFIX_LEN);
    push_user(&mut b, user);
    b
}

/// Append the escaped user key (same bytes as `keyenc::put_bytes`, with a copy fast path for the
/// common key without zero bytes).
pub fn push_user(buf: &mut Vec<u8>, user: &[u8]) {
    if user.contains(&0) {
        keyenc::put_bytes(buf, user);
    } else {
        buf.extend_from_slice(user);
        buf.extend_from_slice(&[0, 0]);
    }
}

/// Append the version suffix to an escaped user key.
pub fn push_suffix(buf: &mut Vec<u8>, ts: u64, seq: u16) {
    keyenc::put_u64_desc(buf, ts);
    buf.extend_from_slice(&(!seq).to_be_bytes());
}

pub fn internal_key(user: &[u8], ts: u64, seq: u16) -> Vec<u8> {
    let mut b = user_prefix(user);
    push_suffix(&mut b, ts, seq);
    b
}

/// The seek key for "newest version of `user` with commit ts <= read_ts".
pub fn seek_key(user_prefix: &[u8], read_ts: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(user_prefix.len() + SUFFIX_LEN);
    b.extend_from_slice(user_prefix);
    push_suffix(&mut b, read_ts, u16::MAX);
    b
}

/// Split an internal key into (escaped user key, commit ts, seq).
pub fn split(ikey: &[u8]) -> Result<(&[u8], u64, u16)> {
    if ikey.len() < SUFFIX_LEN + 2 {
        return Err(Error::corrupt(format!(
            "internal key of {} bytes is shorter than its suffix",
            ikey.len()
        )));
    }
    let (user, suffix) = ikey.split_at(ikey.len() - SUFFIX_LEN);
    let ts = keyenc::get_u64_desc(suffix)?;
    let seq = !u16::from_be_bytes([suffix[8], suffix[9]]);
    Ok((user, ts, seq))
}

/// The escaped user-key part of an internal key (empty for a key too short to have one).
#[inline]
pub fn user_part(ikey: &[u8]) -> &[u8] {
    &ikey[..ikey.len().saturating_sub(SUFFIX_LEN)]
}

/// Decode an escaped user key back to the user's bytes.
pub fn decode_user(escaped: &[u8]) -> Result<Vec<u8>> {
    let (k, used) = keyenc::get_bytes(escaped)?;
    if used != escaped.len() {
        return Err(Error::corrupt("trailing bytes after an encoded user key"));
    }
    Ok(k)
}

/// What a version says besides its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    pub tombstone: bool,
    pub valid_from: Option<i64>,
    pub valid_to: Option<i64>,
}

impl Meta {
    /// Is `valid_at` inside the half-open valid interval? `None` asks for no valid-time filter.
    #[inline]
    pub fn valid_at(&self, valid_at: Option<i64>) -> bool {
        match valid_at {
            None => true,
            Some(t) => {
                self.valid_from.is_none_or(|f| f <= t) && self.valid_to.is_none_or(|e| t < e)
            }
        }
    }
}

fn key_with_spare(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + KEY_SPARE);
    k.extend_from_slice(key);
    k
}

pub fn encode_value(buf: &mut Vec<u8>, meta: &Meta, value: &[u8]) {
    let mut flags = 0;
    if meta.tombstone {
        flags |= TOMBSTONE;
    }
    if meta.valid_from.is_some() {
        flags |= HAS_FROM;
    }
    if meta.valid_to.is_some() {
        flags |= HAS_TO;
    }
    buf.push(flags);
    if let Some(f) = meta.valid_from {
        put_varint(buf, f);
    }
    if let Some(t) = meta.valid_to {
        put_varint(buf, t);
    }
    buf.extend_from_slice(value);
}

pub fn decode_value(buf: &[u8]) -> Result<(Meta, &[u8])> {
    let (&flags, mut rest) = buf
        .split_first()
        .ok_or_else(|| Error::corrupt("empty stored value"))?;
    if flags & !(TOMBSTONE | HAS_FROM | HAS_TO) != 0 {
        return Err(Error::corrupt(format!("unknown value flags 0x{flags:02x}")));
    }
    let mut meta = Meta {
        tombstone: flags & TOMBSTONE != 0,
        ..Meta::default()
    };
    if flags & HAS_FROM != 0 {
        let (v, n) = get_varint(rest)?;
        meta.valid_from = Some(v);
        rest = &rest[n..];
    }
    if flags & HAS_TO != 0 {
        let (v, n) = get_varint(rest)?;
        meta.valid_to = Some(v);
        rest = &rest[n..];
    }
    if meta.tombstone && !rest.is_empty() {
        return Err(Error::corrupt("a tombstone carries value bytes"));
    }
    Ok((meta, rest))
}

/// One write of a batch, as the engine receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub key: Vec<u8>,
    /// `None` = delete (tombstone).
    pub value: Option<Vec<u8>>,
    pub valid_from: Option<i64>,
    pub valid_to: Option<i64>,
}

/// Spare capacity `Op::put`/`Op::delete` leave after a key: the `00 00` terminator and the
/// version suffix, so the commit turns the key into its internal key without reallocating.
pub const KEY_SPARE: usize = 2 + SUFFIX_LEN;
/// Spare capacity left in a value for its header (the flags byte of a put without valid
/// times; puts with valid times re-encode into a new buffer).
pub const VALUE_SPARE: usize = 1;

impl Op {
    /// A put whose buffers have room for the internal key and value header (see
    /// [`Op::into_entry`]): the commit moves them into the memtable uncopied.
    pub fn put(key: &[u8], value: &[u8], valid_from: Option<i64>, valid_to: Option<i64>) -> Op {
        let mut v = Vec::with_capacity(value.len() + VALUE_SPARE);
        v.extend_from_slice(value);
        Op {
            key: key_with_spare(key),
            value: Some(v),
            valid_from,
            valid_to,
        }
    }

    /// A tombstone (for `[valid_from, valid_to)`, or the whole valid line).
    pub fn delete(key: &[u8], valid_from: Option<i64>, valid_to: Option<i64>) -> Op {
        Op {
            key: key_with_spare(key),
            value: None,
            valid_from,
            valid_to,
        }
    }

    /// The memtable entry (internal key, encoded value) of this op at (`ts`, `seq`), built in
    /// the op's own buffers: the key gets its terminator and suffix appended (escaped into a
    /// new buffer only if it holds a zero byte), the value its header shifted in front.
    pub fn into_entry(self, ts: u64, seq: u16) -> (Vec<u8>, Vec<u8>) {
        let meta = self.meta();
        let mut key = self.key;
        if key.contains(&0) {
            key = internal_key(&key, ts, seq);
        } else {
            key.extend_from_slice(&[0, 0]);
            push_suffix(&mut key, ts, seq);
        }
        let value = match self.value {
            None => {
                let mut head = Vec::with_capacity(21);
                encode_value(&mut head, &meta, &[]);
                head
            }
            // The usual put (no valid times): the header is the single flags byte 0.
            Some(mut v) if meta.valid_from.is_none() && meta.valid_to.is_none() => {
                v.insert(0, 0);
                v
            }
            Some(v) => {
                let mut head = Vec::with_capacity(v.len() + 21);
                encode_value(&mut head, &meta, &v);
                head
            }
        };
        (key, value)
    }

    pub fn meta(&self) -> Meta {
        Meta {
            tombstone: self.value.is_none(),
            valid_from: self.valid_from,
            valid_to: self.valid_to,
        }
    }
}

/// The sequence number of each op in its batch: how many earlier ops of the batch wrote the
/// same key (the later write wins where valid intervals overlap).
pub(crate) fn batch_seqs(ops: &[Op]) -> Result<Vec<u16>> {
    if ops.len() == 1 {
        return Ok(vec![0]);
    }
    let mut seen: HashMap<&[u8], u16, KeyHasher> =
        HashMap::with_capacity_and_hasher(ops.len(), KeyHasher);
    ops.iter()
        .map(|op| {
            let s = seen.entry(op.key.as_slice()).or_insert(0);
            let mine = *s;
            *s = s.checked_add(1).ok_or_else(|| {
                Error::invalid("a write batch may write one key at most 65535 times")
            })?;
            Ok(mine)
        })
        .collect()
}

/// Hashes the keys of one batch (to number repeated writes of a key) with xxh3: the keys are
/// the caller's own, so no HashDoS concern, and SipHash cost ~2% of a batched put.
#[derive(Debug, Clone, Copy, Default)]
struct KeyHasher;

#[derive(Debug, Default)]
struct Xxh3State(u64);

impl std::hash::BuildHasher for KeyHasher {
    type Hasher = Xxh3State;
    fn build_hasher(&self) -> Xxh3State {
        Xxh3State(0)
    }
}

impl std::hash::Hasher for Xxh3State {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }
    fn write_usize(&mut self, n: usize) {
        self.0 ^= (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A decoded version of one key, as `history` and the bitemporal rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    pub ts: u64,
    pub seq: u16,
    pub meta: Meta,
    pub value: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_seqs_count_earlier_writes_of_the_key() {
        let ops: Vec<Op> = [&b"a"[..], b"b", b"a", b"a", b"c", b"b"]
            .iter()
            .map(|k| Op::put(k, b"v", None, None))
            .collect();
        assert_eq!(batch_seqs(&ops).expect("seqs"), vec![0, 0, 1, 2, 0, 1]);
        assert_eq!(batch_seqs(&ops[..1]).expect("one"), vec![0]);
        let many: Vec<Op> = (0..=u32::from(u16::MAX) + 1)
            .map(|_| Op::delete(b"k", None, None))
            .collect();
        assert!(batch_seqs(&many).is_err());
    }

    #[test]
    fn into_entry_matches_the_encodings() {
        let cases = [
            Op::put(b"plain", b"value", None, None),
            Op::put(b"ze\0ro", b"v", None, None),
            Op::put(b"k", b"", Some(-5), None),
            Op::put(b"k", b"timed", Some(3), Some(i64::MAX)),
            Op::delete(b"gone", None, Some(9)),
            Op::delete(b"gone\0", None, None),
            Op {
                key: b"no spare".to_vec(),
                value: Some(b"x".to_vec()),
                valid_from: None,
                valid_to: None,
            },
        ];
        for op in cases {
            let want_key = internal_key(&op.key, 77, 3);
            let mut want_value = Vec::new();
            encode_value(
                &mut want_value,
                &op.meta(),
                op.value.as_deref().unwrap_or(&[]),
            );
            let (k, v) = op.clone().into_entry(77, 3);
            assert_eq!(k, want_key, "{op:?}");
            assert_eq!(v, want_value, "{op:?}");
        }
    }

    #[test]
    fn order_is_key_asc_ts_desc_seq_desc() {
        let a = internal_key(b"a", 5, 0);
        let a_old = internal_key(b"a", 3, 0);
        let a_seq = internal_key(b"a", 5, 1);
        let ab = internal_key(b"ab", 9, 0);
        let a0 = internal_key(b"a\0", 1, 0);
        assert!(a_seq < a && a < a_old && a_old < a0 && a0 < ab);
        let (u, ts, seq) = split(&a_seq).expect("split");
        assert_eq!(
            (decode_user(u).expect("user"), ts, seq),
            (b"a".to_vec(), 5, 1)
        );
        assert!(seek_key(&user_prefix(b"a"), 5) <= a_seq);
        assert!(seek_key(&user_prefix(b"a"), 4) > a_old.min(a.clone()));
        for k in [&b""[..], b"a\0b", b"\0", b"plain"] {
            let mut want = Vec::new();
            keyenc::put_bytes(&mut want, k);
            assert_eq!(user_prefix(k), want);
        }
    }

    #[test]
    fn value_roundtrip() {
        for meta in [
            Meta::default(),
            Meta {
                tombstone: true,
                valid_from: Some(-5),
                valid_to: None,
            },
            Meta {
                tombstone: false,
                valid_from: Some(10),
                valid_to: Some(20),
            },
        ] {
            let mut b = Vec::new();
            let v: &[u8] = if meta.tombstone { b"" } else { b"xyz" };
            encode_value(&mut b, &meta, v);
            let (m, val) = decode_value(&b).expect("decode");
            assert_eq!((m, val), (meta, v));
        }
        assert!(decode_value(&[0x80]).is_err());
        assert!(decode_value(&[]).is_err());
    }

    #[test]
    fn valid_interval_is_half_open() {
        let m = Meta {
            tombstone: false,
            valid_from: Some(10),
            valid_to: Some(20),
        };
        assert!(!m.valid_at(Some(9)) && m.valid_at(Some(10)) && m.valid_at(Some(19)));
        assert!(!m.valid_at(Some(20)) && m.valid_at(None));
    }
}
