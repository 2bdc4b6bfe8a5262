//! Is a socket readable right now? The connection pool's probe of an idle connection.
//!
//! An idle database connection's socket has nothing to read unless the server closed it, sent
//! an error (PostgreSQL's `FATAL: terminating connection`, MariaDB's idle-timeout packet) or
//! the peer reset it. A `poll(2)` with a zero timeout tells without doing any I/O. It costs a
//! fraction of a microsecond, so the binding keeps the GIL across it: releasing the GIL for so
//! short a call lets another thread take it, and under contention the caller then waits for a
//! thread switch to get it back (Python's own `select.poll().poll(0)` always releases it).

/// Whether `fd` has input, a hang-up or an error pending, now (`poll` with a zero timeout).
/// A descriptor that is not open counts as ready (`POLLNVAL`): the connection is unusable.
pub fn ready_now(fd: i32) -> std::io::Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN | libc::POLLPRI,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd, count 1, zero timeout; poll writes only `revents`.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        if n >= 0 {
            return Ok(n > 0 && p.revents != 0);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ready_now;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn quiet_then_readable_then_hung_up() {
        let (a, mut b) = UnixStream::pair().unwrap();
        assert!(!ready_now(a.as_raw_fd()).unwrap());
        b.write_all(b"x").unwrap();
        assert!(ready_now(a.as_raw_fd()).unwrap());
        let (c, d) = UnixStream::pair().unwrap();
        drop(d);
        assert!(ready_now(c.as_raw_fd()).unwrap());
    }

    #[test]
    fn a_closed_descriptor_is_ready() {
        let (a, _b) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        drop(a);
        assert!(ready_now(fd).unwrap());
    }
}
