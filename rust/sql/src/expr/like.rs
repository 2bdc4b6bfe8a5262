//! SQL LIKE: `%` matches any run of characters, `_` exactly one. Patterns are compiled once per
//! batch into segments split at `%`; segments without `_` are found with memchr's memmem.

use memchr::memmem;

pub struct LikeMatcher {
    anchored_start: bool,
    anchored_end: bool,
    segments: Vec<Vec<char>>,
    /// Fast path (no `_` anywhere, so segments are plain substrings): the text before the first
    /// `%`, after the last, and a searcher compiled once for each non-empty segment between.
    first: Vec<u8>,
    last: Vec<u8>,
    middle: Vec<memmem::Finder<'static>>,
    /// No `%`: the whole value must equal `first`.
    exact: bool,
    has_underscore: bool,
    case_insensitive: bool,
}

impl LikeMatcher {
    pub fn new(pattern: &str, case_insensitive: bool) -> LikeMatcher {
        let pattern = if case_insensitive {
            pattern.to_lowercase()
        } else {
            pattern.to_string()
        };
        let parts: Vec<&str> = pattern.split('%').collect();
        LikeMatcher {
            anchored_start: !pattern.starts_with('%'),
            anchored_end: !pattern.ends_with('%'),
            segments: parts.iter().map(|p| p.chars().collect()).collect(),
            first: parts[0].as_bytes().to_vec(),
            last: parts[parts.len() - 1].as_bytes().to_vec(),
            middle: parts
                .iter()
                .skip(1)
                .take(parts.len().saturating_sub(2))
                .filter(|p| !p.is_empty())
                .map(|p| memmem::Finder::new(p.as_bytes()).into_owned())
                .collect(),
            exact: parts.len() == 1,
            has_underscore: pattern.contains('_'),
            case_insensitive,
        }
    }

    pub fn matches(&self, s: &str) -> bool {
        if self.case_insensitive {
            let lower = s.to_lowercase();
            return self.matches_cased(&lower);
        }
        self.matches_cased(s)
    }

    fn matches_cased(&self, s: &str) -> bool {
        if !self.has_underscore {
            return self.match_plain(s);
        }
        let chars: Vec<char> = s.chars().collect();
        self.match_chars(&chars)
    }

    fn match_plain(&self, s: &str) -> bool {
        let s = s.as_bytes();
        if self.exact {
            return s == self.first.as_slice();
        }
        let (first, last) = (self.first.as_slice(), self.last.as_slice());
        // Empty ends are skipped, not compared: glibc's AVX-512 memcmp reads even a zero-length
        // slice with a masked load, and at an empty Vec's dangling address that load takes a
        // fault-suppression assist costing ~100 ns per row.
        if s.len() < first.len() + last.len()
            || (!first.is_empty() && !s.starts_with(first))
            || (!last.is_empty() && !s.ends_with(last))
        {
            return false;
        }
        let mut hay = &s[first.len()..s.len() - last.len()];
        for seg in &self.middle {
            match seg.find(hay) {
                Some(pos) => hay = &hay[pos + seg.needle().len()..],
                None => return false,
            }
        }
        true
    }

    fn match_chars(&self, s: &[char]) -> bool {
        let seg_eq = |seg: &[char], at: &[char]| {
            seg.len() <= at.len() && seg.iter().zip(at).all(|(p, c)| *p == '_' || p == c)
        };
        let n = self.segments.len();
        if n == 1 {
            return s.len() == self.segments[0].len() && seg_eq(&self.segments[0], s);
        }
        let first = &self.segments[0];
        let last = &self.segments[n - 1];
        if s.len() < first.len() + last.len() {
            return false;
        }
        if self.anchored_start && !seg_eq(first, s) {
            return false;
        }
        if self.anchored_end && !seg_eq(last, &s[s.len() - last.len()..]) {
            return false;
        }
        let mut pos = first.len();
        let end = s.len() - last.len();
        for seg in &self.segments[1..n - 1] {
            let mut found = None;
            let mut k = pos;
            while k + seg.len() <= end {
                if seg_eq(seg, &s[k..]) {
                    found = Some(k);
                    break;
                }
                k += 1;
            }
            match found {
                Some(k) => pos = k + seg.len(),
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::LikeMatcher;

    #[test]
    fn like_patterns() {
        let cases = [
            ("%special%requests%", "xx special yy requests", true),
            ("%special%requests%", "requests special", false),
            ("PROMO%", "PROMO BRUSHED", true),
            ("%BRASS", "LARGE BRASS", true),
            ("%BRASS", "BRASS X", false),
            ("a_c", "abc", true),
            ("a_c", "abbc", false),
            ("%a_c%", "zzabcx", true),
            ("abc", "abc", true),
            ("%", "", true),
            ("a%a", "a", false),
            ("ab%ab", "abab", true),
            ("ab%ab", "aba", false),
            ("%a%%b%", "xaxb", true),
            ("%a%%b%", "xbxa", false),
            ("a%b%c", "abc", true),
            ("a%b%c", "acbc", true),
            ("a%b%c", "acb", false),
            ("%ab%ab%", "xabab", true),
            ("%ab%ab%", "xaba", false),
        ];
        for (p, s, want) in cases {
            assert_eq!(LikeMatcher::new(p, false).matches(s), want, "{p} {s}");
        }
    }
}
