//! The core's error type. Each [`ErrorKind`] is one status code of the C ABI (`rust/ABI.md`);
//! the message is what `hl_last_error` returns.

use std::fmt;

/// What failed, as the caller would branch on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// An invalid argument (the message says which).
    Argument,
    /// The client is closed or closing.
    Closed,
    /// A panic, caught.
    Panic,
    /// iceoryx2 / hftbacktest IPC failure.
    Ipc,
    /// Unknown asset or order.
    NotFound,
    /// Duplicate order id.
    Duplicate,
    /// The command queue is full.
    Full,
    /// Invalid configuration.
    Config,
    /// A caller buffer is too small.
    Buffer,
    /// Not allowed in the current state.
    State,
    /// The engine stopped by itself (a panic in the core).
    Engine,
    /// Too many requests wait to be sent (`max_queued_requests`): nothing was queued.
    Backpressure,
    /// A limit of the connector's IPC was reached (nodes per service, bots per connector,
    /// buffer size or max_bots different from the connector's).
    Limit,
}

/// A failure with the message a caller reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: Option<String>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: Some(message.into()),
        }
    }

    /// The client is closed, with no message of its own: the one error of a wait or poll that
    /// leaves the last error as it was.
    pub fn closed() -> Self {
        Self {
            kind: ErrorKind::Closed,
            message: None,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, if this error has one of its own.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => f.write_str(m),
            None => write!(f, "{:?}", self.kind),
        }
    }
}

impl std::error::Error for Error {}

/// `Err(Error::new(kind, message))`, for the many early returns that build one.
pub(crate) fn fail<T>(kind: ErrorKind, message: impl Into<String>) -> Result<T, Error> {
    Err(Error::new(kind, message))
}
