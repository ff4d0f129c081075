//! The fan-out floor: what one `send` per delivered message costs on this machine, whatever the
//! server.
//!
//! `null-server` is the cheapest possible fan-out: it accepts TCP connections and, `rate` times
//! a second, writes one ready-made WebSocket frame (a fan-out event, stamped with its send time)
//! to every one of them, one system call each: no protocol, no parsing, no queue, no task.
//! [`floor`] connects `n` plain readers to it and reads the null server's CPU time per delivered
//! frame from `/proc`, exactly as the fan-out scenario reads a real server's, and the latency
//! from the stamp to each reader. A Pusher server that writes each message to each subscriber
//! separately cannot go below these figures on the same machine; the rest is its own.

use std::{
    io::Write,
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{
        atomic::{AtomicU64, AtomicU8, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use serde_json::{json, Value};
use tokio::{io::AsyncReadExt, net::TcpSocket};
use tokio_tungstenite::tungstenite::protocol::frame::{
    coding::{Data, OpCode},
    Frame,
};

use crate::{
    procstat::{server_json, Proc},
    stats::{histogram, latency_json, now_micros, parse_payload, payload, round3},
};

/// A text frame like the fan-out scenario's events (`pad` payload bytes), stamped now, as a
/// server sends it. Its length does not change from one call to the next.
pub fn event_frame(pad: usize) -> Vec<u8> {
    let data = payload(0, pad);
    let text = json!({"event": "bench", "channel": "fanout-00000-0", "data": data}).to_string();
    let mut frame = Vec::with_capacity(text.len() + 10);
    // Server frames are not masked; writing into a Vec cannot fail.
    let _ = Frame::message(text.into_bytes(), OpCode::Data(Data::Text), true).format(&mut frame);
    frame
}

/// Serves the floor until killed: accepts connections on `listener` and, `rate` times a
/// second, writes a freshly stamped event frame (`pad` payload bytes) to every connection, one
/// system call each.
pub fn null_server(listener: TcpListener, rate: f64, pad: usize) -> std::io::Result<()> {
    let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
    let accepted = conns.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = stream.set_nodelay(true);
            if let Ok(mut list) = accepted.lock() {
                list.push(stream);
            }
        }
    });
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut next = Instant::now();
    loop {
        next += period;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let frame = event_frame(pad);
        let mut list = conns
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        // A reader that went away is dropped; loopback buffers never fill at these rates.
        list.retain_mut(|stream| stream.write_all(&frame).is_ok());
    }
}

/// Connects `n` readers to the null server at `addr` (spread over `sources`), lets the writes
/// settle, then measures for `duration`: frames delivered, their latency, and the null server's
/// CPU time per delivered frame.
pub async fn floor(
    addr: SocketAddr,
    sources: &[std::net::IpAddr],
    n: usize,
    duration: Duration,
    frame_len: usize,
    proc: Option<&Proc>,
    label: &str,
) -> Result<Value, String> {
    let bytes = Arc::new(AtomicU64::new(0));
    // 0: settling, 1: measuring, 2: done.
    let phase = Arc::new(AtomicU8::new(0));
    let mut readers = Vec::with_capacity(n);
    for i in 0..n {
        let source = sources[i % sources.len().max(1)];
        let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
        socket
            .bind(SocketAddr::new(source, 0))
            .map_err(|e| format!("bind {source}: {e}"))?;
        let mut stream = socket
            .connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let (bytes, phase) = (bytes.clone(), phase.clone());
        readers.push(tokio::spawn(async move {
            let mut latency = histogram();
            let mut frame = vec![0u8; frame_len];
            while stream.read_exact(&mut frame).await.is_ok() {
                bytes.fetch_add(frame_len as u64, Ordering::Relaxed);
                match phase.load(Ordering::Relaxed) {
                    0 => continue,
                    1 => {}
                    _ => break,
                }
                let text = String::from_utf8_lossy(&frame);
                if let Some((_, sent)) = parse_payload(&text) {
                    let _ = latency.record(now_micros().saturating_sub(sent).max(1));
                }
            }
            latency
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    phase.store(1, Ordering::Relaxed);
    let (b0, s0, t0) = (
        bytes.load(Ordering::Relaxed),
        proc.and_then(Proc::sample),
        Instant::now(),
    );
    tokio::time::sleep(duration).await;
    let (b1, s1, window) = (
        bytes.load(Ordering::Relaxed),
        proc.and_then(Proc::sample),
        t0.elapsed(),
    );
    phase.store(2, Ordering::Relaxed);
    // Each reader stops at its next frame (a tick away).
    let mut latency = histogram();
    for reader in readers {
        match tokio::time::timeout(Duration::from_secs(5), reader).await {
            Ok(Ok(h)) => {
                let _ = latency.add(&h);
            }
            _ => return Err("a floor reader did not stop".into()),
        }
    }
    let delivered = (b1 - b0) / frame_len.max(1) as u64;
    let cpu = match (proc, s0, s1) {
        (Some(p), Some(a), Some(b)) => Some(p.secs(b.cpu_ticks.saturating_sub(a.cpu_ticks))),
        _ => None,
    };
    Ok(json!({
        "scenario": "floor",
        "label": label,
        "connections": n,
        "frame_bytes": frame_len,
        "delivered": delivered,
        "delivered_per_s": round3(delivered as f64 / window.as_secs_f64()),
        "window_s": round3(window.as_secs_f64()),
        "latency": latency_json(&latency),
        "cpu_us_per_delivered": cpu.filter(|_| delivered > 0)
            .map(|c| round3(c * 1e6 / delivered as f64)),
        "server": server_json(proc, s0, s1),
    }))
}
