//! A connection's bounded outbound queue and its kill switch.
//!
//! Frames are encoded once and shared (`ByteString` clones are reference counts). When the queue
//! is full the consumer is too slow: the connection is closed with 4100 instead of buffering.

use std::sync::{
    atomic::{AtomicU16, Ordering},
    Arc,
};

use bytestring::ByteString;
use pusher_wire::ErrorCode;
use tokio::sync::{mpsc, Notify};

/// Asks a connection to close with a code, from any thread.
#[derive(Debug, Default)]
pub struct KillSwitch {
    code: AtomicU16,
    notify: Notify,
}

impl KillSwitch {
    /// Requests a close with `code` (the first request wins).
    pub fn kill(&self, code: ErrorCode) {
        if self
            .code
            .compare_exchange(0, code.code(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.notify.notify_one();
        }
    }

    /// The requested close code, if any.
    pub fn code(&self) -> Option<ErrorCode> {
        ErrorCode::from_code(self.code.load(Ordering::Acquire))
    }

    /// Waits until a close is requested.
    pub async fn killed(&self) -> ErrorCode {
        loop {
            if let Some(code) = self.code() {
                return code;
            }
            self.notify.notified().await;
        }
    }
}

/// The sending side of a connection's queue.
#[derive(Clone, Debug)]
pub struct Outbox {
    tx: mpsc::Sender<ByteString>,
    kill: Arc<KillSwitch>,
}

/// The receiving side, owned by the session loop.
pub type Inbox = mpsc::Receiver<ByteString>;

impl Outbox {
    /// A queue holding at most `capacity` frames.
    pub fn new(capacity: usize) -> (Outbox, Inbox, Arc<KillSwitch>) {
        let (tx, rx) = mpsc::channel(capacity);
        let kill = Arc::new(KillSwitch::default());
        (
            Outbox {
                tx,
                kill: kill.clone(),
            },
            rx,
            kill,
        )
    }

    /// Queues a frame; a full queue closes the connection with 4100. Returns whether queued.
    pub fn send(&self, frame: &ByteString) -> bool {
        match self.tx.try_send(frame.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.kill.kill(ErrorCode::OverCapacity);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Closes the connection with `code`.
    pub fn kill(&self, code: ErrorCode) {
        self.kill.kill(code);
    }
}
