//! A connection's bounded outbound queue, its kill switch, and the response body that drains
//! the queue straight into the socket.
//!
//! Frames are encoded once and shared (`ByteString` clones are reference counts). The HTTP
//! dispatcher polls [`Outbound`] directly, which takes every frame that is ready and writes them
//! as WebSocket frames in one buffer: one wake-up and one write for many messages, no extra task
//! hop. When the queue is full the consumer is too slow: the connection is closed with 4100
//! instead of buffering.

use std::{
    pin::Pin,
    sync::{
        atomic::{AtomicU16, Ordering},
        Arc,
    },
    task::{Context, Poll},
};

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;
use futures_util::task::AtomicWaker;
use pusher_wire::{ErrorCode, ServerMessage};
use tokio::sync::{mpsc, Notify};

/// Most bytes written in one batch before the dispatcher gets the chunk.
const MAX_BATCH_BYTES: usize = 64 * 1024;

/// Asks a connection to close with a code, from any thread.
#[derive(Debug, Default)]
pub struct KillSwitch {
    code: AtomicU16,
    notify: Notify,
    body: AtomicWaker,
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
            self.body.wake();
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

/// One item of the outbound queue.
#[derive(Clone, Debug)]
pub enum OutFrame {
    /// A text frame (every Pusher message).
    Text(ByteString),
    /// A WebSocket pong answering a ping.
    Pong(Bytes),
    /// A close frame; nothing is written after it.
    Close(u16),
}

/// The sending side of a connection's queue.
#[derive(Clone, Debug)]
pub struct Outbox {
    tx: mpsc::Sender<OutFrame>,
    kill: Arc<KillSwitch>,
}

impl Outbox {
    /// A queue holding at most `capacity` frames, and the body that drains it.
    pub fn new(capacity: usize) -> (Outbox, Outbound, Arc<KillSwitch>) {
        let (tx, rx) = mpsc::channel(capacity);
        let kill = Arc::new(KillSwitch::default());
        (
            Outbox {
                tx,
                kill: kill.clone(),
            },
            Outbound {
                rx,
                kill: kill.clone(),
                done: false,
            },
            kill,
        )
    }

    /// Queues a frame; a full queue closes the connection with 4100. Returns whether queued.
    pub fn send(&self, frame: &ByteString) -> bool {
        match self.tx.try_send(OutFrame::Text(frame.clone())) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.kill.kill(ErrorCode::OverCapacity);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Queues a frame of the connection's own (a reply), waiting for room; `false` once the
    /// connection is gone.
    pub async fn reply(&self, frame: OutFrame) -> bool {
        self.tx.send(frame).await.is_ok()
    }

    /// Queues a plain close frame (after what is queued) without waiting; the body ends there.
    pub fn close(&self, code: u16) {
        let _ = self.tx.try_send(OutFrame::Close(code));
    }

    /// Closes the connection with `code`.
    pub fn kill(&self, code: ErrorCode) {
        self.kill.kill(code);
    }
}

/// The response body of a WebSocket connection: the queue, written as WebSocket frames.
#[derive(Debug)]
pub struct Outbound {
    rx: mpsc::Receiver<OutFrame>,
    kill: Arc<KillSwitch>,
    done: bool,
}

/// Appends one unmasked server frame (RFC 6455 §5.2).
fn push_frame(buf: &mut BytesMut, opcode: u8, payload: &[u8]) {
    buf.reserve(payload.len() + 10);
    buf.put_u8(0x80 | opcode);
    match payload.len() {
        len @ 0..=125 => buf.put_u8(len as u8),
        len @ 126..=0xFFFF => {
            buf.put_u8(126);
            buf.put_u16(len as u16);
        }
        len => {
            buf.put_u8(127);
            buf.put_u64(len as u64);
        }
    }
    buf.extend_from_slice(payload);
}

fn push_close(buf: &mut BytesMut, code: u16, reason: &str) {
    let mut payload = Vec::with_capacity(reason.len() + 2);
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(reason.as_bytes());
    push_frame(buf, 0x8, &payload);
}

impl futures_util::Stream for Outbound {
    type Item = Result<Bytes, actix_web::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        self.kill.body.register(cx.waker());
        if let Some(code) = self.kill.code() {
            // Closing with a Pusher code: the error, then the close frame; queued frames of a
            // client that cannot keep up are dropped, not flushed.
            self.done = true;
            let mut buf = BytesMut::new();
            let error = ServerMessage::Error {
                code: Some(code),
                message: code.description(),
                channel: None,
            }
            .encode();
            push_frame(&mut buf, 0x1, error.as_bytes());
            push_close(&mut buf, code.code(), code.description());
            return Poll::Ready(Some(Ok(buf.freeze())));
        }
        let mut buf = BytesMut::new();
        while buf.len() < MAX_BATCH_BYTES {
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(OutFrame::Text(text))) => {
                    push_frame(&mut buf, 0x1, text.as_bytes())
                }
                Poll::Ready(Some(OutFrame::Pong(payload))) => push_frame(&mut buf, 0xA, &payload),
                Poll::Ready(Some(OutFrame::Close(code))) => {
                    push_close(&mut buf, code, "");
                    self.done = true;
                    break;
                }
                Poll::Ready(None) => {
                    self.done = true;
                    break;
                }
                Poll::Pending => break,
            }
        }
        if buf.is_empty() {
            if self.done {
                Poll::Ready(None)
            } else {
                Poll::Pending
            }
        } else {
            Poll::Ready(Some(Ok(buf.freeze())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lengths() {
        for len in [0usize, 125, 126, 65535, 65536] {
            let mut buf = BytesMut::new();
            push_frame(&mut buf, 0x1, &vec![b'x'; len]);
            let header = match len {
                0..=125 => 2,
                126..=65535 => 4,
                _ => 10,
            };
            assert_eq!(buf.len(), header + len);
            assert_eq!(buf[0], 0x81);
        }
        let mut buf = BytesMut::new();
        push_close(&mut buf, 4100, "Over capacity");
        assert_eq!(&buf[..4], &[0x88, 15, 0x10, 0x04]);
    }
}
