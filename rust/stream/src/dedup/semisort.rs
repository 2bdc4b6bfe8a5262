//! Semi-sorted bucket encoding (Fan et al., 2014, section 5.2): a bucket of 4 slots stores its
//! entries as a multiset, so their order carries no information and can be spent on bits.
//!
//! ```text
//!  slot value v (w bits, 0 = empty) = nibble (low 4 bits) + rest (w - 4 bits)
//!  sort the 4 values by (nibble, rest); the 4 sorted nibbles n0 <= n1 <= n2 <= n3 are one of
//!  C(16 + 4 - 1, 4) = 3876 multisets < 2^12, stored as their rank:
//!
//!   bucket (4w - 4 bits) = │ rest3 │ rest2 │ rest1 │ rest0 │ rank (12) │   (low bits right)
//!
//!  rank(n) = C(n0, 1) + C(n1 + 1, 2) + C(n2 + 2, 3) + C(n3 + 3, 4)   (combinatorial number
//!  system: c_i = n_i + i is strictly increasing in [0, 19))           DECODE[rank] = n packed
//! ```
//!
//! Sorting by the whole value (nibble first) makes the encoding canonical: one set of entries
//! has one bit pattern, so tables built by the same inserts are equal bit for bit. The empty
//! bucket (four zero values) is rank 0 with zero rests: all-zero words are an empty table.

/// Bits of the rank of a bucket's nibble multiset.
pub const INDEX_BITS: u32 = 12;
/// Bits each slot gives to the sorted nibbles; semi-sorting saves 4 of the 16 per bucket.
pub const NIBBLE_BITS: u32 = 4;
/// Sorted 4-nibble multisets: C(19, 4).
pub const MULTISETS: usize = 3876;
const _: () = assert!(MULTISETS <= 1 << INDEX_BITS);

/// BINOM[k][n] = C(n, k) for n < 19, k <= 4.
const BINOM: [[u16; 19]; 5] = {
    let mut t = [[0u16; 19]; 5];
    let mut n = 0;
    while n < 19 {
        t[0][n] = 1;
        let mut k = 1;
        while k < 5 {
            t[k][n] = if n == 0 {
                0
            } else {
                t[k - 1][n - 1] + t[k][n - 1]
            };
            k += 1;
        }
        n += 1;
    }
    t
};

/// Rank of sorted nibbles `n0 <= n1 <= n2 <= n3` among the 3876 multisets.
#[inline]
const fn rank(n: [usize; 4]) -> usize {
    BINOM[1][n[0]] as usize
        + BINOM[2][n[1] + 1] as usize
        + BINOM[3][n[2] + 2] as usize
        + BINOM[4][n[3] + 3] as usize
}

/// DECODE[rank] = the sorted nibbles of that rank, packed n0 | n1 << 4 | n2 << 8 | n3 << 12.
static DECODE: [u16; MULTISETS] = {
    let mut t = [0u16; MULTISETS];
    let mut a = 0;
    while a < 16 {
        let mut b = a;
        while b < 16 {
            let mut c = b;
            while c < 16 {
                let mut d = c;
                while d < 16 {
                    t[rank([a, b, c, d])] = (a | b << 4 | c << 8 | d << 12) as u16;
                    d += 1;
                }
                c += 1;
            }
            b += 1;
        }
        a += 1;
    }
    t
};

/// Bits of a bucket whose slot values are `width` bits wide.
#[inline]
pub const fn bucket_bits(width: u32) -> u32 {
    4 * width - NIBBLE_BITS
}

/// True if the low bits of a stored bucket are a valid rank (checks restored tables).
#[inline]
pub fn valid(bucket: u128) -> bool {
    ((bucket & ((1 << INDEX_BITS) - 1)) as usize) < MULTISETS
}

/// Sort key: nibble first, then the rest, so sorted values have sorted nibbles.
#[inline]
fn order(v: u64) -> u64 {
    ((v & 0xf) << 60) | (v >> NIBBLE_BITS)
}

#[inline]
fn cswap(s: &mut [u64; 4], i: usize, j: usize) {
    if order(s[i]) > order(s[j]) {
        s.swap(i, j);
    }
}

/// Encode 4 slot values of `width` bits (any order, 0 = empty) as one `bucket_bits(width)`-bit
/// bucket.
#[inline]
pub fn encode(mut s: [u64; 4], width: u32) -> u128 {
    // Optimal 5-comparator sorting network for 4 elements.
    cswap(&mut s, 0, 1);
    cswap(&mut s, 2, 3);
    cswap(&mut s, 0, 2);
    cswap(&mut s, 1, 3);
    cswap(&mut s, 1, 2);
    let nib = s.map(|v| (v & 0xf) as usize);
    let rest_bits = width - NIBBLE_BITS;
    let mut out = rank(nib) as u128;
    for (j, v) in s.iter().enumerate() {
        out |= u128::from(v >> NIBBLE_BITS) << (INDEX_BITS + j as u32 * rest_bits);
    }
    out
}

/// The 4 slot values of a bucket, sorted by (nibble, rest). The bucket must be [`valid`].
#[inline]
pub fn decode(bucket: u128, width: u32) -> [u64; 4] {
    let packed = DECODE[(bucket & ((1 << INDEX_BITS) - 1)) as usize];
    let rest_bits = width - NIBBLE_BITS;
    let rest_mask = (1u128 << rest_bits) - 1;
    let mut s = [0u64; 4];
    for (j, v) in s.iter_mut().enumerate() {
        let rest = (bucket >> (INDEX_BITS + j as u32 * rest_bits)) & rest_mask;
        let nibble = u64::from(packed >> (4 * j)) & 0xf;
        *v = ((rest as u64) << NIBBLE_BITS) | nibble;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_are_a_bijection_onto_0_3876() {
        let mut seen = vec![false; MULTISETS];
        for a in 0..16 {
            for b in a..16 {
                for c in b..16 {
                    for d in c..16 {
                        let r = rank([a, b, c, d]);
                        assert!(!seen[r], "rank {r} twice");
                        seen[r] = true;
                        let p = DECODE[r] as usize;
                        assert_eq!([p & 15, p >> 4 & 15, p >> 8 & 15, p >> 12], [a, b, c, d]);
                    }
                }
            }
        }
        assert!(seen.iter().all(|&x| x));
    }

    fn sorted(mut s: [u64; 4]) -> [u64; 4] {
        s.sort_by_key(|&v| order(v));
        s
    }

    #[test]
    fn round_trips_every_width_and_is_canonical() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for width in 6..=32u32 {
            for i in 0..3_000u64 {
                let mut s = [0u64; 4];
                for v in &mut s {
                    x = super::super::exact::fmix64(x.wrapping_add(i));
                    // A quarter empty, and many shared nibbles to exercise ties.
                    *v = match x % 4 {
                        0 => 0,
                        1 => (x >> 8) & ((1 << width) - 1) & !0xf | (x & 3),
                        _ => (x >> 8) & ((1 << width) - 1),
                    };
                }
                let e = encode(s, width);
                assert!(e < 1u128 << bucket_bits(width), "width {width}");
                assert!(valid(e));
                assert_eq!(decode(e, width), sorted(s), "width {width} {s:?}");
                let mut r = s;
                r.reverse();
                r.swap(0, 2);
                assert_eq!(encode(r, width), e, "not canonical");
            }
        }
        assert_eq!(encode([0; 4], 15), 0);
        assert!(!valid(MULTISETS as u128));
    }
}
