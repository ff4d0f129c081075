//! A connection's outbound side: the [`Outbox`] the hub and the session write frames to, its
//! kill switch, and the response body ([`Outbound`]) that keeps the connection's HTTP task
//! flushing and closing it.
//!
//! A frame is a complete WebSocket frame ([`WsFrame`]), encoded once and shared: a broadcast
//! queues the same bytes on every subscriber's link ([`Link::push`]), which writes them to the
//! socket without involving the connection's task. At most `capacity` frames wait on a link; a
//! consumer that lets them pile up is closed with 4100 instead of being buffered for.

use std::{
    pin::Pin,
    sync::{
        atomic::{AtomicU16, Ordering},
        Arc,
    },
    task::{Context, Poll},
};

use bytes::{BufMut, Bytes, BytesMut};
use pusher_wire::{ErrorCode, ServerMessage};
use tokio::sync::Notify;

use crate::net::{Link, Pushed};

/// One server-to-client WebSocket frame, header included (server frames are not masked, so
/// every recipient gets the same bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsFrame(Bytes);

impl WsFrame {
    /// A text frame (every Pusher message).
    pub fn text(payload: &str) -> WsFrame {
        WsFrame::new(0x1, payload.as_bytes())
    }

    /// A pong answering a ping.
    pub fn pong(payload: &[u8]) -> WsFrame {
        WsFrame::new(0xA, payload)
    }

    /// A close frame with a status code and a reason.
    pub fn close(code: u16, reason: &str) -> WsFrame {
        let mut payload = Vec::with_capacity(reason.len() + 2);
        payload.extend_from_slice(&code.to_be_bytes());
        payload.extend_from_slice(reason.as_bytes());
        WsFrame::new(0x8, &payload)
    }

    /// Encodes one final, unmasked frame (RFC 6455 §5.2).
    fn new(opcode: u8, payload: &[u8]) -> WsFrame {
        let mut buf = BytesMut::with_capacity(payload.len() + 10);
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
        WsFrame(buf.freeze())
    }

    /// The encoded bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.0
    }
}

/// Asks a connection to close with a code, from any thread.
#[derive(Debug, Default)]
pub struct KillSwitch {
    code: AtomicU16,
    notify: Notify,
}

impl KillSwitch {
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

    /// Records the request; `true` for the first one.
    fn request(&self, code: ErrorCode) -> bool {
        let first = self
            .code
            .compare_exchange(0, code.code(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if first {
            self.notify.notify_one();
        }
        first
    }
}

/// The sending side of a connection.
#[derive(Clone, Debug)]
pub struct Outbox {
    link: Arc<Link>,
    kill: Arc<KillSwitch>,
    capacity: usize,
}

impl Outbox {
    /// The outbox of a connection being upgraded on `link`, queueing at most `capacity` frames,
    /// and the body that flushes and closes it. Frames sent before the upgrade response is
    /// written wait for it.
    pub fn new(link: Arc<Link>, capacity: usize) -> (Outbox, Outbound, Arc<KillSwitch>) {
        link.hold();
        let kill = Arc::new(KillSwitch::default());
        (
            Outbox {
                link: link.clone(),
                kill: kill.clone(),
                capacity,
            },
            Outbound {
                link,
                kill: kill.clone(),
                closing: false,
                done: false,
            },
            kill,
        )
    }

    /// Sends a frame; a full queue closes the connection with 4100. Returns whether it was
    /// written or queued.
    pub fn send(&self, frame: &WsFrame) -> bool {
        match self.link.push(&frame.0, self.capacity) {
            Pushed::Taken => true,
            Pushed::Full => {
                self.kill(ErrorCode::OverCapacity);
                false
            }
            Pushed::Closed => false,
        }
    }

    /// Sends a plain close frame after what is queued; nothing is sent after it.
    pub fn close(&self, code: u16) {
        self.link.finish(&[WsFrame::close(code, "").0], false);
    }

    /// Closes the connection with `code`: `pusher:error`, then the close frame; frames still
    /// queued are dropped (the first request wins).
    pub fn kill(&self, code: ErrorCode) {
        if self.kill.request(code) {
            self.link.wake();
        }
    }
}

/// The response body of a WebSocket connection. It yields no bytes (frames are written to the
/// socket directly); polling it makes the connection's HTTP task flush what the socket could
/// not take at once, write the final frames of a kill, and end the response once the close
/// frame is out.
#[derive(Debug)]
pub struct Outbound {
    link: Arc<Link>,
    kill: Arc<KillSwitch>,
    closing: bool,
    done: bool,
}

impl futures_util::Stream for Outbound {
    type Item = Result<Bytes, actix_web::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        self.link.register(cx);
        if !self.closing {
            if let Some(code) = self.kill.code() {
                // A client that cannot keep up is not sent its backlog.
                let error = ServerMessage::Error {
                    code: Some(code),
                    message: code.description(),
                    channel: None,
                }
                .encode();
                let last = [
                    WsFrame::text(&error).0,
                    WsFrame::close(code.code(), code.description()).0,
                ];
                self.link.finish(&last, true);
                self.closing = true;
            } else if self.link.is_closed() {
                self.closing = true;
            }
        }
        match self.link.poll_flush(cx) {
            Poll::Ready(Ok(())) if self.closing => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Ok(())) | Poll::Pending => Poll::Pending,
            Poll::Ready(Err(_)) => {
                self.done = true;
                Poll::Ready(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lengths() {
        for len in [0usize, 125, 126, 65535, 65536] {
            let frame = WsFrame::text(&"x".repeat(len));
            let header = match len {
                0..=125 => 2,
                126..=65535 => 4,
                _ => 10,
            };
            assert_eq!(frame.bytes().len(), header + len);
            assert_eq!(frame.bytes()[0], 0x81);
        }
        let close = WsFrame::close(4100, "Over capacity");
        assert_eq!(&close.bytes()[..4], &[0x88, 15, 0x10, 0x04]);
        assert_eq!(&WsFrame::pong(b"hi").bytes()[..], &[0x8A, 2, b'h', b'i']);
    }
}
