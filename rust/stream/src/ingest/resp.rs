//! A minimal blocking Redis client (RESP2 over TCP) for the stream source's hot path.
//!
//! Only what `RedisStreamSource` needs at high rates: `XREADGROUP` with a large `COUNT`,
//! parsed straight into two Arrow arrays (entry IDs, one field's payloads) with no per-entry
//! allocation, and `XACK` of many IDs in a few big commands. Everything else (group creation,
//! `XAUTOCLAIM`, `XINFO`) stays on the Python client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use arrow_array::builder::{BinaryBuilder, StringBuilder};
use arrow_array::{Array, BinaryArray, StringArray};
use minide_common::{Error, Result};

fn parse_i64(text: &[u8]) -> Option<i64> {
    let (neg, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(d - b'0');
    }
    Some(if neg { -v } else { v })
}

/// One connection to a Redis server.
pub struct RedisConn {
    url: String,
    /// Set when a call failed part-way: the reply stream may be out of step, so the next call
    /// reconnects first.
    broken: bool,
    addr: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    line: Vec<u8>,
}

/// Entries of one `XREADGROUP` reply: IDs and the value of the requested field (null when the
/// entry lacks it or was deleted while pending).
pub struct Entries {
    pub ids: StringArray,
    pub payloads: BinaryArray,
}

/// Who reads what: `XREADGROUP GROUP group consumer ... STREAMS stream`, keeping `field`.
pub struct GroupRead<'a> {
    pub group: &'a str,
    pub consumer: &'a str,
    pub stream: &'a str,
    pub field: &'a [u8],
}

/// `redis://[[user]:password@]host[:port][/db]` → (host:port, user, password, db).
fn parse_url(url: &str) -> Result<(String, Option<String>, Option<String>, u32)> {
    let bad = || Error::invalid(format!("not a redis URL (redis://host:port/db): {url:?}"));
    let rest = url.strip_prefix("redis://").ok_or_else(bad)?;
    let (auth, hostpart) = match rest.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, rest),
    };
    let (hostport, db) = match hostpart.split_once('/') {
        Some((h, d)) if !d.is_empty() => (h, d.parse::<u32>().map_err(|_| bad())?),
        Some((h, _)) => (h, 0),
        None => (hostpart, 0),
    };
    let hostport = if hostport.is_empty() {
        "127.0.0.1:6379".to_string()
    } else if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:6379")
    };
    let (user, pass) = match auth {
        None => (None, None),
        Some(a) => match a.split_once(':') {
            Some((u, p)) => ((!u.is_empty()).then(|| u.to_string()), Some(p.to_string())),
            None => (None, Some(a.to_string())),
        },
    };
    Ok((hostport, user, pass, db))
}

impl RedisConn {
    pub fn connect(url: &str) -> Result<Self> {
        let (addr, user, pass, db) = parse_url(url)?;
        let io = |e: std::io::Error| Error::invalid(format!("redis {addr}: {e}"));
        let stream = TcpStream::connect(&addr).map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(io)?;
        let writer = stream.try_clone().map_err(io)?;
        let mut conn = RedisConn {
            url: url.to_string(),
            broken: false,
            addr: addr.clone(),
            reader: BufReader::with_capacity(1 << 20, stream),
            writer,
            line: Vec::with_capacity(64),
        };
        if let Some(p) = pass {
            match user {
                Some(u) => conn.simple(&[b"AUTH", u.as_bytes(), p.as_bytes()])?,
                None => conn.simple(&[b"AUTH", p.as_bytes()])?,
            }
        }
        if db != 0 {
            conn.simple(&[b"SELECT", db.to_string().as_bytes()])?;
        }
        Ok(conn)
    }

    fn io(&self, e: std::io::Error) -> Error {
        Error::invalid(format!("redis {}: {e}", self.addr))
    }

    fn encode(buf: &mut Vec<u8>, args: &[&[u8]]) {
        buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
    }

    fn send(&mut self, buf: &[u8]) -> Result<()> {
        self.writer.write_all(buf).map_err(|e| self.io(e))
    }

    /// One header line (type byte + text), without the CRLF.
    fn read_line(&mut self) -> Result<(u8, &[u8])> {
        self.line.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.line)
            .map_err(|e| Error::invalid(format!("redis {}: {e}", self.addr)))?;
        if n < 3 || self.line[n - 2] != b'\r' {
            return Err(Error::corrupt(format!(
                "redis {}: truncated or malformed reply line",
                self.addr
            )));
        }
        if self.line[0] == b'-' {
            return Err(Error::invalid(format!(
                "redis {}: {}",
                self.addr,
                String::from_utf8_lossy(&self.line[1..n - 2])
            )));
        }
        Ok((self.line[0], &self.line[1..n - 2]))
    }

    /// A header line: its type byte and integer (None when the text is not one).
    fn read_header(&mut self) -> Result<(u8, Option<i64>)> {
        let (t, text) = self.read_line()?;
        Ok((t, parse_i64(text)))
    }

    fn bad_int(&self) -> Error {
        Error::corrupt(format!("redis {}: bad length in reply", self.addr))
    }

    /// A header of type `kind`; returns its integer (-1 = null).
    fn header(&mut self, kind: u8) -> Result<i64> {
        let (t, n) = self.read_header()?;
        if t != kind {
            return Err(Error::corrupt(format!(
                "redis {}: expected reply type {:?}, got {:?}",
                self.addr, kind as char, t as char
            )));
        }
        n.ok_or_else(|| self.bad_int())
    }

    /// A bulk string's bytes, appended to `out`; false when it was null.
    fn bulk_into(&mut self, out: &mut Vec<u8>) -> Result<bool> {
        let n = self.header(b'$')?;
        if n < 0 {
            return Ok(false);
        }
        let start = out.len();
        out.resize(start + n as usize + 2, 0);
        self.reader
            .read_exact(&mut out[start..])
            .map_err(|e| Error::invalid(format!("redis {}: {e}", self.addr)))?;
        out.truncate(start + n as usize);
        Ok(true)
    }

    /// Skip one reply of any type.
    fn skip(&mut self) -> Result<()> {
        let (t, n) = self.read_header()?;
        match t {
            b'+' | b':' => Ok(()),
            b'$' => {
                let n = n.ok_or_else(|| self.bad_int())?;
                if n >= 0 {
                    let mut sink = vec![0u8; n as usize + 2];
                    self.reader.read_exact(&mut sink).map_err(|e| self.io(e))?;
                }
                Ok(())
            }
            b'*' => {
                let n = n.ok_or_else(|| self.bad_int())?;
                for _ in 0..n.max(0) {
                    self.skip()?;
                }
                Ok(())
            }
            other => Err(Error::corrupt(format!(
                "redis {}: unknown reply type {:?}",
                self.addr, other as char
            ))),
        }
    }

    /// Send a command and skip its reply (raising on an error reply).
    pub fn simple(&mut self, args: &[&[u8]]) -> Result<()> {
        let mut buf = Vec::new();
        Self::encode(&mut buf, args);
        self.send(&buf)?;
        self.skip()
    }

    /// Run `f`; if it fails, the connection is replaced before the next call.
    fn guarded<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.broken {
            let url = self.url.clone();
            *self = RedisConn::connect(&url)?;
        }
        self.broken = true;
        let out = f(self)?;
        self.broken = false;
        Ok(out)
    }

    /// `XREADGROUP GROUP g c COUNT n [BLOCK ms] STREAMS s id`: IDs and `field` values.
    pub fn xreadgroup(
        &mut self,
        read: &GroupRead<'_>,
        id: &str,
        count: usize,
        block_ms: Option<u64>,
    ) -> Result<Entries> {
        self.guarded(|c| c.xreadgroup_once(read, id, count, block_ms))
    }

    fn xreadgroup_once(
        &mut self,
        read: &GroupRead<'_>,
        id: &str,
        count: usize,
        block_ms: Option<u64>,
    ) -> Result<Entries> {
        let GroupRead {
            group,
            consumer,
            stream,
            field,
        } = *read;
        let count_s = count.to_string();
        let block_s = block_ms.map(|b| b.to_string());
        let mut args: Vec<&[u8]> = vec![
            b"XREADGROUP",
            b"GROUP",
            group.as_bytes(),
            consumer.as_bytes(),
            b"COUNT",
            count_s.as_bytes(),
        ];
        if let Some(b) = &block_s {
            args.push(b"BLOCK");
            args.push(b.as_bytes());
        }
        args.extend_from_slice(&[b"STREAMS", stream.as_bytes(), id.as_bytes()]);
        let mut buf = Vec::new();
        Self::encode(&mut buf, &args);
        self.send(&buf)?;

        let mut ids = StringBuilder::new();
        let mut payloads = BinaryBuilder::new();
        let mut scratch = Vec::with_capacity(256);
        let mut value = Vec::with_capacity(256);
        let n_streams = self.header(b'*')?;
        for _ in 0..n_streams.max(0) {
            if self.header(b'*')? != 2 {
                return Err(Error::corrupt(format!(
                    "redis {}: bad XREADGROUP reply",
                    self.addr
                )));
            }
            self.skip()?; // stream name
            let n_entries = self.header(b'*')?;
            for _ in 0..n_entries.max(0) {
                if self.header(b'*')? != 2 {
                    return Err(Error::corrupt(format!(
                        "redis {}: bad stream entry in reply",
                        self.addr
                    )));
                }
                scratch.clear();
                self.bulk_into(&mut scratch)?;
                let id = std::str::from_utf8(&scratch).map_err(|_| {
                    Error::corrupt(format!("redis {}: entry ID is not UTF-8", self.addr))
                })?;
                ids.append_value(id);
                let n_fields = self.header(b'*')?; // -1: entry deleted while pending
                let mut found = false;
                let mut i = 0;
                while i + 1 < n_fields.max(0) {
                    scratch.clear();
                    self.bulk_into(&mut scratch)?;
                    if !found && scratch == field {
                        value.clear();
                        found = self.bulk_into(&mut value)?;
                    } else {
                        self.skip()?;
                    }
                    i += 2;
                }
                if n_fields > 0 && n_fields % 2 == 1 {
                    self.skip()?;
                }
                if found {
                    payloads.append_value(&value);
                } else {
                    payloads.append_null();
                }
            }
        }
        Ok(Entries {
            ids: ids.finish(),
            payloads: payloads.finish(),
        })
    }

    /// `XACK stream group id...` for every (non-null) ID, in commands of at most 10,000 IDs,
    /// all sent before the replies are read. Returns the number acknowledged.
    pub fn xack(&mut self, stream: &str, group: &str, ids: &StringArray) -> Result<u64> {
        self.guarded(|c| c.xack_once(stream, group, ids))
    }

    fn xack_once(&mut self, stream: &str, group: &str, ids: &StringArray) -> Result<u64> {
        let mut buf = Vec::new();
        let mut commands = 0;
        let all: Vec<&str> = (0..ids.len())
            .filter(|&i| ids.is_valid(i))
            .map(|i| ids.value(i))
            .collect();
        for chunk in all.chunks(10_000) {
            let mut args: Vec<&[u8]> = Vec::with_capacity(chunk.len() + 3);
            args.extend_from_slice(&[b"XACK", stream.as_bytes(), group.as_bytes()]);
            args.extend(chunk.iter().map(|s| s.as_bytes()));
            Self::encode(&mut buf, &args);
            commands += 1;
        }
        self.send(&buf)?;
        let mut acked = 0;
        for _ in 0..commands {
            acked += self.header(b':')? as u64;
        }
        Ok(acked)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_url;

    #[test]
    fn urls() {
        let u = parse_url("redis://127.0.0.1:6379/0").unwrap();
        assert_eq!((u.0.as_str(), u.3), ("127.0.0.1:6379", 0));
        let u = parse_url("redis://localhost/3").unwrap();
        assert_eq!((u.0.as_str(), u.3), ("localhost:6379", 3));
        let u = parse_url("redis://:pw@h:1").unwrap();
        assert_eq!((u.1, u.2.as_deref()), (None, Some("pw")));
        assert!(parse_url("http://x").is_err());
        assert!(parse_url("redis://h/x").is_err());
    }
}
