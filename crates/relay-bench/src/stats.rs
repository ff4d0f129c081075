//! Payload encoding, per-subscriber sequence tracking and latency summaries.

use std::time::{SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// Marks a benchmark payload inside an event's `data` string.
pub const MARKER: &str = "~b:";

/// Microseconds since the Unix epoch (both ends run on this machine: one clock).
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The `data` of event `seq`, stamped now: `~b:{seq}:{micros}:{padding}`.
pub fn payload(seq: u64, pad: usize) -> String {
    let mut s = format!("{MARKER}{seq}:{}:", now_micros());
    s.extend(std::iter::repeat_n('x', pad));
    s
}

/// Finds a benchmark payload in a received frame: `(seq, sent_micros)`.
pub fn parse_payload(frame: &str) -> Option<(u64, u64)> {
    let at = frame.find(MARKER)? + MARKER.len();
    let rest = &frame.as_bytes()[at..];
    let (seq, used) = parse_u64(rest)?;
    if rest.get(used) != Some(&b':') {
        return None;
    }
    let (sent, _) = parse_u64(&rest[used + 1..])?;
    Some((seq, sent))
}

fn parse_u64(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut n: u64 = 0;
    let mut used = 0;
    for &b in bytes {
        if !b.is_ascii_digit() {
            break;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        used += 1;
    }
    (used > 0).then_some((n, used))
}

/// A latency histogram in microseconds, 1 us to 120 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    // unwrap: the bounds are constant and valid.
    Histogram::new_with_bounds(1, 120_000_000, 3).unwrap()
}

/// What one subscriber received: it expects every sequence number `seq < total` with
/// `seq % stride == offset`.
#[derive(Clone, Debug)]
pub struct Tracker {
    stride: u64,
    offset: u64,
    total: u64,
    seen: Vec<u64>,
    /// Benchmark frames received (duplicates included).
    pub received: u64,
    /// Distinct expected sequence numbers received.
    pub unique: u64,
    /// Frames whose sequence number had been received before.
    pub duplicates: u64,
    /// Frames with a sequence number this subscriber should never see.
    pub unexpected: u64,
    /// End-to-end latency of the first copy of each message, microseconds.
    pub latency: Histogram<u64>,
}

impl Tracker {
    /// A tracker for `seq % stride == offset`, `seq < total`.
    pub fn new(stride: u64, offset: u64, total: u64) -> Tracker {
        let stride = stride.max(1);
        let slots = total.div_ceil(stride);
        Tracker {
            stride,
            offset,
            total,
            seen: vec![0; slots.div_ceil(64) as usize],
            received: 0,
            unique: 0,
            duplicates: 0,
            unexpected: 0,
            latency: histogram(),
        }
    }

    /// Records a frame; returns whether it was a first copy of an expected message.
    pub fn record(&mut self, seq: u64, sent_us: u64, now_us: u64) -> bool {
        self.received += 1;
        if seq >= self.total || seq % self.stride != self.offset {
            self.unexpected += 1;
            return false;
        }
        let slot = seq / self.stride;
        let (word, bit) = ((slot / 64) as usize, 1u64 << (slot % 64));
        if self.seen[word] & bit != 0 {
            self.duplicates += 1;
            return false;
        }
        self.seen[word] |= bit;
        self.unique += 1;
        self.latency
            .saturating_record(now_us.saturating_sub(sent_us).max(1));
        true
    }

    /// Whether `seq` was received.
    pub fn has(&self, seq: u64) -> bool {
        if seq >= self.total || seq % self.stride != self.offset {
            return false;
        }
        let slot = seq / self.stride;
        self.seen[(slot / 64) as usize] & (1u64 << (slot % 64)) != 0
    }

    /// The sequence numbers this subscriber expects.
    pub fn expected_seqs(&self) -> impl Iterator<Item = u64> {
        (self.offset..self.total).step_by(self.stride as usize)
    }
}

fn ms(us: u64) -> f64 {
    (us as f64 / 1000.0 * 1000.0).round() / 1000.0
}

/// `{count, p50_ms, p90_ms, p99_ms, p999_ms, max_ms, mean_ms}` of a microsecond histogram.
pub fn latency_json(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return json!({ "count": 0 });
    }
    json!({
        "count": h.len(),
        "p50_ms": ms(h.value_at_quantile(0.50)),
        "p90_ms": ms(h.value_at_quantile(0.90)),
        "p99_ms": ms(h.value_at_quantile(0.99)),
        "p999_ms": ms(h.value_at_quantile(0.999)),
        "max_ms": ms(h.max()),
        "mean_ms": (h.mean() / 1000.0 * 1000.0).round() / 1000.0,
    })
}

/// Rounds to 3 decimals for reports.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_inside_a_frame() {
        let data = payload(42, 5);
        let frame = format!(r#"{{"event":"bench","channel":"c","data":"{data}"}}"#);
        let (seq, sent) = parse_payload(&frame).unwrap();
        assert_eq!(seq, 42);
        assert!(sent > 1_600_000_000_000_000);
        assert!(parse_payload(r#"{"event":"pusher:pong","data":{}}"#).is_none());
    }

    #[test]
    fn tracker_counts_duplicates_and_strides() {
        let mut t = Tracker::new(3, 1, 10);
        assert!(t.record(1, 0, 10));
        assert!(!t.record(1, 0, 10));
        assert!(!t.record(2, 0, 10));
        assert!(t.record(7, 0, 10));
        assert!(!t.record(10, 0, 10));
        assert_eq!((t.unique, t.duplicates, t.unexpected), (2, 1, 2));
        assert_eq!(t.expected_seqs().collect::<Vec<_>>(), vec![1, 4, 7]);
        assert!(t.has(7) && !t.has(4));
    }
}
