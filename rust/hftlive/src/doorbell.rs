//! The doorbell: a Unix stream socket whose other end the caller reads with its own event loop
//! (no blocking-pool thread in between). The engine writes one byte per arming, so a consumer
//! that is busy draining costs no syscall (`rust/ABI.md`, "Doorbell").

use std::{
    io::Write,
    os::unix::net::{UnixListener, UnixStream},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Mutex,
    },
};

use crate::sync::LockExt;

/// Why [`Doorbell::accept`] failed.
#[derive(Debug)]
pub enum AcceptError {
    /// [`Doorbell::listen`] was not called (or the listener was already used).
    NotListening,
    /// Nobody connected to the socket at `path`.
    NoConnection(PathBuf, std::io::Error),
    /// The accepted socket could not be made non-blocking.
    Setup(std::io::Error),
}

#[derive(Default)]
pub struct Doorbell {
    socket: Mutex<Option<UnixStream>>,
    armed: AtomicBool,
    /// Between `listen` and `accept`.
    listener: Mutex<Option<(UnixListener, PathBuf)>>,
}

impl Doorbell {
    /// Listens on a Unix socket at `path` (any file there is replaced), non-blocking.
    pub fn listen(&self, path: &Path) -> std::io::Result<()> {
        let _ = std::fs::remove_file(path);
        let l = UnixListener::bind(path)?;
        l.set_nonblocking(true)?;
        *self.listener.lock_or_recover() = Some((l, path.to_path_buf()));
        Ok(())
    }

    /// Accepts the caller's connection, removes the socket file and installs the socket.
    pub fn accept(&self) -> Result<(), AcceptError> {
        let taken = self.listener.lock_or_recover().take();
        let Some((l, path)) = taken else {
            return Err(AcceptError::NotListening);
        };
        let _ = std::fs::remove_file(&path);
        let (s, _) = l.accept().map_err(|e| AcceptError::NoConnection(path, e))?;
        s.set_nonblocking(true).map_err(AcceptError::Setup)?;
        *self.socket.lock_or_recover() = Some(s);
        Ok(())
    }

    /// Removes the socket file of a listener never accepted (closed while the caller was
    /// connecting).
    pub fn abandon(&self) {
        if let Some((_, path)) = self.listener.lock_or_recover().take() {
            let _ = std::fs::remove_file(path);
        }
    }

    pub(crate) fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    pub(crate) fn disarm(&self) {
        self.armed.store(false, Ordering::SeqCst);
    }

    /// Rings once if armed (and disarms): one byte per arming.
    #[inline]
    pub(crate) fn ring_if_armed(&self) {
        if self.armed.load(Ordering::SeqCst) && self.armed.swap(false, Ordering::SeqCst) {
            self.ring();
        }
    }

    /// Writes one byte whether or not it is armed (no-op without a socket).
    pub(crate) fn ring(&self) {
        if let Some(s) = self.socket.lock_or_recover().as_mut() {
            // Non-blocking: if the socket buffer is full, bytes are already waiting to be read.
            let _ = s.write(&[1u8]);
        }
    }
}
