//! The TCP connections the HTTP server runs on, with a direct write path for WebSocket frames.
//!
//! Every accepted socket is a [`Socket`]: actix-http reads and writes it like a plain TCP
//! stream. A WebSocket connection also hands its [`Link`] (the same socket, shared) to the hub,
//! so a broadcast queues its frame, encoded once, on each subscriber's link, and this thread's
//! [`Flusher`] writes every link that has frames as soon as the broadcasting task yields: one
//! system call per subscriber for everything queued meanwhile, no task wake-up per connection,
//! no copy. Only when the kernel's send buffer is full does the connection's own HTTP task take
//! over, writing the rest once the socket is writable again; the queue is bounded by the
//! caller ([`Link::push`]'s `limit`).
//!
//! Every byte goes out under the link's lock and in queue order, so frames sent from several
//! threads never interleave, and frames queued while the upgrade response is still on its way
//! ([`Link::hold`]) are written after it.

use std::{
    cell::RefCell,
    collections::VecDeque,
    io::{self, IoSlice},
    net::Shutdown,
    pin::Pin,
    rc::Rc,
    sync::Arc,
    task::{ready, Context, Poll},
};

use bytes::{Buf, Bytes};
use futures_util::task::AtomicWaker;
use parking_lot::Mutex;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::Notify,
};

/// Queued buffers written in one vectored write when a backlog is flushed.
const MAX_SLICES: usize = 64;

/// An accepted TCP connection as the HTTP server sees it.
#[derive(Debug)]
pub struct Socket {
    link: Arc<Link>,
}

impl Socket {
    /// Wraps an accepted stream.
    pub fn new(tcp: TcpStream) -> Socket {
        Socket {
            link: Arc::new(Link {
                tcp,
                out: Mutex::new(Out::default()),
                task: AtomicWaker::new(),
            }),
        }
    }

    /// The shared write side, for a connection that becomes a WebSocket.
    pub fn link(&self) -> Arc<Link> {
        self.link.clone()
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // The HTTP task is done with the connection. The hub may still hold the link for a
        // moment: refuse further frames and let the peer see the end now, not when the last
        // reference goes.
        self.link.out.lock().closed = true;
        let _ = socket2::SockRef::from(&self.link.tcp).shutdown(Shutdown::Both);
    }
}

/// What [`Link::push`] did with a frame.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Pushed {
    /// Taken: written, or queued to be written in order.
    Taken,
    /// Not taken: `limit` frames are already queued.
    Full,
    /// Not taken: the connection is closing or gone.
    Closed,
}

/// The write side of a connection, shared by its HTTP task and whoever sends it frames.
#[derive(Debug)]
pub struct Link {
    tcp: TcpStream,
    out: Mutex<Out>,
    /// The connection's HTTP task: flushes the queue when the socket is writable again.
    task: AtomicWaker,
}

#[derive(Debug, Default)]
struct Out {
    /// Bytes not written yet, oldest first.
    queue: VecDeque<Bytes>,
    /// The front buffer was partly written: it must be finished before anything else.
    front_started: bool,
    /// Frames wait for the upgrade response, which the HTTP task has not written yet.
    held: bool,
    /// The link is on a thread's flush list ([`Flusher`]).
    listed: bool,
    /// The socket was full: the HTTP task writes the queue when it is writable again.
    stalled: bool,
    /// Nothing more is accepted: the final frames are queued, or the socket is gone.
    closed: bool,
}

impl Out {
    /// Drops `n` written bytes from the front of the queue.
    fn consume(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.queue.front_mut() else {
                return;
            };
            if n < front.len() {
                front.advance(n);
                self.front_started = true;
                return;
            }
            n -= front.len();
            self.queue.pop_front();
            self.front_started = false;
        }
    }
}

/// What one attempt to write the queue ended with.
enum Drain {
    /// Everything was written.
    Empty,
    /// The socket is full.
    Full,
    /// The socket failed; the queue was dropped.
    Failed(io::Error),
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

impl Link {
    /// Holds frames back until the HTTP task writes its next bytes (the upgrade response),
    /// which then go first. Called by the upgrade handler, before it returns the response.
    pub fn hold(&self) {
        self.out.lock().held = true;
    }

    /// Queues `frame` (unless `limit` frames are queued already) and makes sure it gets
    /// written: by this thread's [`Flusher`] once the current task yields, so that every frame
    /// queued until then goes out in one write, or at once on a thread without one.
    pub fn push(self: &Arc<Self>, frame: &Bytes, limit: usize) -> Pushed {
        let mut out = self.out.lock();
        if out.closed {
            return Pushed::Closed;
        }
        if out.queue.len() >= limit {
            return Pushed::Full;
        }
        out.queue.push_back(frame.clone());
        if out.listed || out.stalled || out.held {
            // Someone is already due to write it.
            return Pushed::Taken;
        }
        out.listed = true;
        drop(out);
        if !Flusher::defer(self) {
            self.flush_now();
        }
        Pushed::Taken
    }

    /// Writes what is queued, as far as the socket takes it; when it is full, the HTTP task
    /// takes over (woken, it waits until the socket is writable).
    fn flush_now(&self) {
        let mut out = self.out.lock();
        out.listed = false;
        if out.held || out.stalled || out.queue.is_empty() {
            return;
        }
        match self.drain(&mut out) {
            Drain::Empty => {}
            Drain::Full => {
                out.stalled = true;
                drop(out);
                self.task.wake();
            }
            Drain::Failed(_) => {
                drop(out);
                self.task.wake();
            }
        }
    }

    /// Writes the queue until it is empty or the socket is full, up to [`MAX_SLICES`] buffers
    /// a system call.
    fn drain(&self, out: &mut Out) -> Drain {
        loop {
            let result = match out.queue.len() {
                0 => return Drain::Empty,
                1 => self.tcp.try_write(&out.queue[0]),
                _ => {
                    let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                    let mut count = 0;
                    for (slice, buf) in slices.iter_mut().zip(&out.queue) {
                        *slice = IoSlice::new(buf);
                        count += 1;
                    }
                    self.tcp.try_write_vectored(&slices[..count])
                }
            };
            match result {
                Ok(n) => out.consume(n),
                Err(e) if would_block(&e) => return Drain::Full,
                Err(e) => {
                    out.closed = true;
                    out.queue.clear();
                    out.front_started = false;
                    return Drain::Failed(e);
                }
            }
        }
    }

    /// Queues the last frames and accepts nothing after them. With `discard`, queued frames
    /// that have not started are dropped first (a consumer that cannot keep up is not sent its
    /// backlog). The HTTP task writes them. Returns `false` if the link was already closed.
    pub fn finish(&self, last: &[Bytes], discard: bool) -> bool {
        let mut out = self.out.lock();
        if out.closed {
            return false;
        }
        if discard {
            let keep = usize::from(out.front_started);
            out.queue.truncate(keep);
        }
        out.queue.extend(last.iter().cloned());
        out.closed = true;
        drop(out);
        self.task.wake();
        true
    }

    /// Whether the link accepts no more frames.
    pub fn is_closed(&self) -> bool {
        self.out.lock().closed
    }

    /// Registers the connection's task, woken when the socket was full or the link closes.
    pub fn register(&self, cx: &Context<'_>) {
        self.task.register(cx.waker());
    }

    /// Wakes the connection's task.
    pub fn wake(&self) {
        self.task.wake();
    }

    /// Writes queued bytes until none are left (`Ready`) or the socket is full (`Pending`; the
    /// task is woken when it is writable). Held frames count as written: they wait for the
    /// upgrade response, not for the socket.
    pub fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let mut out = self.out.lock();
            if out.held {
                return Poll::Ready(Ok(()));
            }
            match self.drain(&mut out) {
                Drain::Empty => {
                    out.stalled = false;
                    return Poll::Ready(Ok(()));
                }
                Drain::Full => {
                    out.stalled = true;
                    drop(out);
                    ready!(self.tcp.poll_write_ready(cx))?;
                }
                Drain::Failed(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// A thread's list of links with frames to write. Frames queued while a task runs (a
/// broadcast to thousands of subscribers, or several broadcasts that arrived together) are
/// written when the flusher's turn comes, one write per link for all of them: no task wake-up
/// per connection, and a connection that gets several frames at once gets one system call.
#[derive(Debug, Default)]
pub struct Flusher {
    links: RefCell<Vec<Arc<Link>>>,
    due: Notify,
}

thread_local! {
    static FLUSHER: RefCell<Option<Rc<Flusher>>> = const { RefCell::new(None) };
}

impl Flusher {
    /// Starts this thread's flusher, once; it must be a thread with a `LocalSet` (every
    /// actix-rt thread is). On a thread without one, [`Link::push`] writes at once.
    pub fn install() {
        FLUSHER.with(|cell| {
            let mut cell = cell.borrow_mut();
            if cell.is_none() {
                let flusher = Rc::new(Flusher::default());
                tokio::task::spawn_local(flusher.clone().run());
                *cell = Some(flusher);
            }
        });
    }

    /// Puts `link` on this thread's list; `false` when the thread has no flusher.
    fn defer(link: &Arc<Link>) -> bool {
        FLUSHER.with(|cell| match &*cell.borrow() {
            Some(flusher) => {
                let mut links = flusher.links.borrow_mut();
                if links.is_empty() {
                    flusher.due.notify_one();
                }
                links.push(link.clone());
                true
            }
            None => false,
        })
    }

    async fn run(self: Rc<Self>) {
        let mut batch = Vec::new();
        loop {
            self.due.notified().await;
            std::mem::swap(&mut batch, &mut *self.links.borrow_mut());
            for link in batch.drain(..) {
                link.flush_now();
            }
        }
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.link.tcp.poll_read_ready(cx))?;
            match self.link.tcp.try_read_buf(buf) {
                Ok(_) => return Poll::Ready(Ok(())),
                Err(e) if would_block(&e) => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let link = &self.link;
        loop {
            let mut out = link.out.lock();
            if out.held {
                // The upgrade response: it goes before the frames held for it.
                out.held = false;
                out.queue.push_front(Bytes::copy_from_slice(buf));
                out.front_started = false;
                drop(out);
                // Errors surface on the next write or flush.
                let _ = link.poll_flush(cx);
                return Poll::Ready(Ok(buf.len()));
            }
            if !out.queue.is_empty() {
                out.queue.push_back(Bytes::copy_from_slice(buf));
                return Poll::Ready(Ok(buf.len()));
            }
            match link.tcp.try_write(buf) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if would_block(&e) => {
                    drop(out);
                    ready!(link.tcp.poll_write_ready(cx))?;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.link.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Whatever is queued (a close frame) goes out first.
        ready!(self.link.poll_flush(cx))?;
        self.link.out.lock().closed = true;
        Poll::Ready(socket2::SockRef::from(&self.link.tcp).shutdown(Shutdown::Write))
    }
}

#[cfg(test)]
mod tests {
    use std::{future::poll_fn, time::Duration};

    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
        task::LocalSet,
    };

    use super::*;

    /// A connected pair: the server side as a [`Socket`], the client side plain.
    async fn pair() -> (Socket, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (Socket::new(server), client)
    }

    /// Plays the connection's HTTP task: flushes whenever it is woken.
    fn http_task(link: Arc<Link>) -> tokio::task::JoinHandle<()> {
        tokio::task::spawn_local(async move {
            poll_fn(|cx| {
                link.register(cx);
                let _ = link.poll_flush(cx);
                Poll::<()>::Pending
            })
            .await
        })
    }

    fn numbered(i: u32, len: usize) -> Bytes {
        let mut v = vec![b'.'; len];
        v[..4].copy_from_slice(&i.to_be_bytes());
        Bytes::from(v)
    }

    async fn read_exact(client: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        tokio::time::timeout(Duration::from_secs(10), client.read_exact(&mut buf))
            .await
            .expect("bytes in time")
            .unwrap();
        buf
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_full_socket_queues_in_order_and_the_task_catches_up() {
        LocalSet::new()
            .run_until(async {
                Flusher::install();
                let (socket, mut client) = pair().await;
                let link = socket.link();
                let task = http_task(link.clone());
                // Far more than the socket buffers hold while the client does not read.
                let (count, len) = (2_000u32, 8_192);
                for i in 0..count {
                    assert_eq!(link.push(&numbered(i, len), usize::MAX), Pushed::Taken);
                }
                tokio::task::yield_now().await;
                assert!(link.out.lock().stalled, "the socket filled up");
                let got = read_exact(&mut client, count as usize * len).await;
                for (i, chunk) in got.chunks(len).enumerate() {
                    assert_eq!(chunk, &numbered(i as u32, len)[..]);
                }
                task.abort();
                assert!(link.out.lock().queue.is_empty());
            })
            .await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn held_frames_follow_the_upgrade_response() {
        let (mut socket, mut client) = pair().await;
        let link = socket.link();
        link.hold();
        // No flusher on this thread: frames would be written at once if not held.
        assert_eq!(link.push(&Bytes::from_static(b"frame1"), 8), Pushed::Taken);
        assert_eq!(link.push(&Bytes::from_static(b"frame2"), 8), Pushed::Taken);
        socket.write_all(b"HTTP/1.1 101\r\n\r\n").await.unwrap();
        socket.flush().await.unwrap();
        let got = read_exact(&mut client, 16 + 12).await;
        assert_eq!(&got[..], b"HTTP/1.1 101\r\n\r\nframe1frame2");
        // Afterwards frames go straight out.
        assert_eq!(link.push(&Bytes::from_static(b"frame3"), 8), Pushed::Taken);
        assert_eq!(read_exact(&mut client, 6).await, b"frame3");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_limit_refuses_and_a_kill_drops_the_backlog_but_finishes_the_started_frame() {
        LocalSet::new()
            .run_until(async {
                let (socket, mut client) = pair().await;
                let link = socket.link();
                let len = 64 * 1024;
                let mut pushed = 0u32;
                while link.push(&numbered(pushed, len), 16) == Pushed::Taken {
                    pushed += 1;
                    assert!(pushed < 10_000, "the limit never applied");
                }
                assert_eq!(link.out.lock().queue.len(), 16);
                assert!(link.finish(&[Bytes::from_static(b"BYE")], true));
                assert_eq!(link.push(&Bytes::from_static(b"late"), 16), Pushed::Closed);
                let task = http_task(link.clone());
                link.wake();
                // What the socket took whole, the started frame finished, then the last frame.
                let started = link.out.lock().front_started;
                let written = pushed as usize - 16 + usize::from(started);
                let got = read_exact(&mut client, written * len + 3).await;
                for (i, chunk) in got[..written * len].chunks(len).enumerate() {
                    assert_eq!(chunk, &numbered(i as u32, len)[..]);
                }
                assert_eq!(&got[written * len..], b"BYE");
                task.abort();
            })
            .await;
    }

    #[test]
    fn frames_from_several_threads_never_interleave() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = LocalSet::new();
        local.block_on(&rt, async {
            let (socket, mut client) = pair().await;
            let link = socket.link();
            let task = http_task(link.clone());
            let (threads, per_thread, len) = (4u32, 2_000u32, 1_000);
            let reader = tokio::task::spawn_local(async move {
                read_exact(&mut client, (threads * per_thread) as usize * len).await
            });
            let senders: Vec<_> = (0..threads)
                .map(|t| {
                    let link = link.clone();
                    std::thread::spawn(move || {
                        for i in 0..per_thread {
                            let mut frame = vec![t as u8; len];
                            frame[1..5].copy_from_slice(&i.to_be_bytes());
                            while link.push(&Bytes::from(frame.clone()), 64) == Pushed::Full {
                                std::thread::sleep(Duration::from_millis(1));
                            }
                        }
                    })
                })
                .collect();
            let got = reader.await.unwrap();
            for sender in senders {
                sender.join().unwrap();
            }
            let mut next = vec![0u32; threads as usize];
            for chunk in got.chunks(len) {
                let t = chunk[0] as usize;
                assert!(chunk[5..].iter().all(|b| *b == chunk[0]), "interleaved");
                let i = u32::from_be_bytes(chunk[1..5].try_into().unwrap());
                assert_eq!(i, next[t], "thread {t} out of order");
                next[t] += 1;
            }
            task.abort();
        });
    }
}
