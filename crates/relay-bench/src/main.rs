//! `relay-bench`: see `relay-bench --help` and the crate documentation.

use std::{process::ExitCode, time::Duration};

use clap::{Args, Parser, Subcommand};
use relay_bench::{
    floor,
    procstat::Proc,
    scenario::{self, Conns, Delivery, FanoutMax, Publish},
    Target,
};
use serde_json::Value;

/// Load generator for any Pusher Channels protocol 7 server. Prints one JSON line per run on
/// stdout and a human-readable summary on stderr. Loopback targets only unless --allow-remote.
#[derive(Parser, Debug)]
#[command(name = "relay-bench", version)]
struct Cli {
    #[command(flatten)]
    target: TargetArgs,
    /// Tokio worker threads of the load generator (default: the CPUs it may run on).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Args, Debug)]
struct TargetArgs {
    /// WebSocket base URL (the tool appends /app/{key}).
    #[arg(long, global = true, default_value = "ws://127.0.0.1:6001")]
    ws_url: String,
    /// HTTP API base URL (the tool appends /apps/{id}/events).
    #[arg(long, global = true, default_value = "http://127.0.0.1:6001")]
    http_url: String,
    #[arg(long, global = true, default_value = "app-id")]
    app_id: String,
    #[arg(long, global = true, default_value = "app-key")]
    key: String,
    #[arg(long, global = true, default_value = "app-secret")]
    secret: String,
    /// The server's pid: RSS and CPU time are read from /proc/<pid>.
    #[arg(long, global = true)]
    server_pid: Option<u32>,
    /// Spread connections over this many source addresses, 127.0.0.2 onwards.
    #[arg(long, global = true, default_value_t = 8)]
    source_addrs: u8,
    /// A name for the server under test, copied into the JSON.
    #[arg(long, global = true, default_value = "")]
    label: String,
    /// Allow a server that is not on 127.0.0.0/8.
    #[arg(long, global = true)]
    allow_remote: bool,
}

#[derive(Args, Debug, Clone)]
struct DeliveryArgs {
    /// Subscribers.
    #[arg(long, short = 'n', default_value_t = 500)]
    subscribers: usize,
    /// Messages published per second.
    #[arg(long, short = 'r', default_value_t = 200.0)]
    rate: f64,
    /// Seconds of publishing.
    #[arg(long, short = 't', default_value_t = 10.0)]
    duration: f64,
    /// Extra payload bytes per message.
    #[arg(long, default_value_t = 64)]
    pad: usize,
    /// Handshakes in flight while connecting.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
    /// Publish requests in flight.
    #[arg(long, default_value_t = 64)]
    max_in_flight: usize,
    /// Seconds to wait for the last deliveries.
    #[arg(long, default_value_t = 5.0)]
    drain: f64,
}

impl DeliveryArgs {
    fn delivery(&self, prefix: &str) -> Delivery {
        Delivery {
            subscribers: self.subscribers,
            channels: 1,
            rate: self.rate,
            duration: Duration::from_secs_f64(self.duration),
            pad: self.pad,
            slow_consumers: 0,
            connect_concurrency: self.connect_concurrency,
            max_in_flight: self.max_in_flight,
            drain: Duration::from_secs_f64(self.drain),
            prefix: format!("{prefix}-{}", std::process::id()),
        }
    }
}

#[derive(Args, Debug, Clone)]
struct ConnArgs {
    /// Connections.
    #[arg(long, short = 'n', default_value_t = 5000)]
    connections: usize,
    /// Handshakes in flight.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
}

#[derive(Subcommand, Debug)]
enum Scenario {
    /// N subscribers on one channel, publishing at R messages/s for T seconds.
    Fanout(DeliveryArgs),
    /// The highest publish rate to N subscribers with p99 <= limit and nothing lost.
    FanoutMax {
        #[command(flatten)]
        d: DeliveryArgs,
        /// First rate tried.
        #[arg(long, default_value_t = 100.0)]
        start_rate: f64,
        /// Highest rate tried.
        #[arg(long, default_value_t = 20000.0)]
        max_rate: f64,
        /// At most this many steps.
        #[arg(long, default_value_t = 10)]
        max_steps: usize,
        /// The p99 latency limit, ms.
        #[arg(long, default_value_t = 50.0)]
        p99_limit_ms: f64,
        /// Count a failing rate as failed at once (default: try it a second time).
        #[arg(long)]
        no_retry: bool,
    },
    /// One subscriber on each of N channels (-n), publishing round-robin at R messages/s.
    Channels(DeliveryArgs),
    /// Memory at N idle subscribed connections: RSS per connection.
    Idle {
        /// Connections.
        #[arg(long, short = 'n', default_value_t = 19000)]
        connections: usize,
        /// Public channels they subscribe to (0: as many as connections).
        #[arg(long, default_value_t = 0)]
        channels: usize,
        /// Handshakes in flight.
        #[arg(long, default_value_t = 200)]
        concurrency: usize,
        /// Seconds to wait before reading RSS.
        #[arg(long, default_value_t = 3.0)]
        settle: f64,
    },
    /// Connect and subscribe N connections as fast as possible.
    Storm {
        #[command(flatten)]
        c: ConnArgs,
        /// Public channels they subscribe to (0: as many as connections).
        #[arg(long, default_value_t = 0)]
        channels: usize,
    },
    /// Presence join storm: N members, M per presence channel, channel_data signed.
    Presence {
        #[command(flatten)]
        c: ConnArgs,
        /// Members per presence channel.
        #[arg(long, default_value_t = 100)]
        members: usize,
        /// Seconds to wait for every member_added.
        #[arg(long, default_value_t = 10.0)]
        settle: f64,
    },
    /// HTTP publish throughput with keep-alive and several concurrent requesters.
    Publish {
        /// Concurrent requesters.
        #[arg(long, short = 'c', default_value_t = 16)]
        requesters: usize,
        /// Seconds.
        #[arg(long, short = 't', default_value_t = 10.0)]
        duration: f64,
        /// At most this many requests.
        #[arg(long, default_value_t = 2_000_000)]
        max: u64,
        /// Subscribers of the channel.
        #[arg(long, default_value_t = 1)]
        subscribers: usize,
        /// Extra payload bytes.
        #[arg(long, default_value_t = 64)]
        pad: usize,
    },
    /// The fan-out floor, measured against `null-server` (at --ws-url, pid --server-pid): its
    /// CPU time per delivered frame, i.e. what one `send` per delivery costs on this machine.
    Floor {
        /// Readers.
        #[arg(long, short = 'n', default_value_t = 1000)]
        connections: usize,
        /// Seconds measured.
        #[arg(long, short = 't', default_value_t = 10.0)]
        duration: f64,
        /// Payload bytes of the frame (as the null server's --pad).
        #[arg(long, default_value_t = 64)]
        pad: usize,
    },
    /// Not a scenario: the cheapest possible fan-out server for `floor`. Accepts TCP
    /// connections on --bind and writes one event-sized WebSocket frame to each of them, one
    /// system call per connection, --rate times a second, until killed.
    NullServer {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:6001")]
        bind: std::net::SocketAddr,
        /// Frames per second to every connection.
        #[arg(long, short = 'r', default_value_t = 60.0)]
        rate: f64,
        /// Payload bytes of the frame.
        #[arg(long, default_value_t = 64)]
        pad: usize,
    },
    /// Healthy subscribers plus consumers that never read: latency of the healthy ones and
    /// the server's RSS growth.
    Slow {
        #[command(flatten)]
        d: DeliveryArgs,
        /// Consumers that never read.
        #[arg(long, default_value_t = 1)]
        slow: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Scenario::NullServer { bind, rate, pad } = cli.scenario {
        let result =
            std::net::TcpListener::bind(bind).and_then(|l| floor::null_server(l, rate, pad));
        eprintln!("relay-bench null-server: {result:?}");
        return ExitCode::FAILURE;
    }
    let nofile = relay_bench::raise_nofile_limit();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = cli.threads {
        builder.worker_threads(n.max(1));
    }
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("relay-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(mut v) => {
            if let Some(m) = v.as_object_mut() {
                m.insert("nofile_limit".into(), nofile.into());
            }
            eprintln!("{}", human(&v));
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("relay-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<Value, String> {
    let t = cli.target;
    let mut target = Target::new(&t.ws_url, &t.http_url, &t.app_id, &t.key, &t.secret);
    target.server_pid = t.server_pid;
    target.source_addrs = t.source_addrs;
    target.allow_remote = t.allow_remote;
    target.label = t.label;
    if let Scenario::Floor {
        connections,
        duration,
        pad,
    } = cli.scenario
    {
        let url = url::Url::parse(&target.ws_url).map_err(|e| format!("--ws-url: {e}"))?;
        let addr = url
            .socket_addrs(|| None)
            .map_err(|e| format!("--ws-url: {e}"))?
            .into_iter()
            .find(std::net::SocketAddr::is_ipv4)
            .ok_or("--ws-url has no IPv4 address")?;
        let proc = target.server_pid.map(Proc::new);
        return floor::floor(
            addr,
            &relay_bench::loopback_sources(target.source_addrs),
            connections,
            Duration::from_secs_f64(duration),
            floor::event_frame(pad).len(),
            proc.as_ref(),
            &target.label,
        )
        .await;
    }
    let ctx = target.context().await?;
    let secs = Duration::from_secs_f64;
    match cli.scenario {
        Scenario::Fanout(d) => scenario::delivery(&ctx, &d.delivery("fanout"), "fanout").await,
        Scenario::FanoutMax {
            d,
            start_rate,
            max_rate,
            max_steps,
            p99_limit_ms,
            no_retry,
        } => {
            let p = FanoutMax {
                base: d.delivery("fmax"),
                start_rate,
                max_rate,
                max_steps,
                p99_limit_ms,
                retry_failures: !no_retry,
            };
            scenario::fanout_max(&ctx, &p).await
        }
        Scenario::Channels(d) => {
            let mut p = d.delivery("ch");
            p.channels = p.subscribers;
            scenario::delivery(&ctx, &p, "channels").await
        }
        Scenario::Idle {
            connections,
            channels,
            concurrency,
            settle,
        } => {
            let p = Conns {
                count: connections,
                channels: if channels == 0 { connections } else { channels },
                presence_members: 0,
                concurrency,
                settle: secs(settle),
                prefix: format!("idle-{}", std::process::id()),
            };
            scenario::connections(&ctx, &p, "idle").await
        }
        Scenario::Storm { c, channels } => {
            let p = Conns {
                count: c.connections,
                channels: if channels == 0 {
                    c.connections
                } else {
                    channels
                },
                presence_members: 0,
                concurrency: c.concurrency,
                settle: Duration::ZERO,
                prefix: format!("storm-{}", std::process::id()),
            };
            scenario::connections(&ctx, &p, "storm").await
        }
        Scenario::Presence { c, members, settle } => {
            let p = Conns {
                count: c.connections,
                channels: 0,
                presence_members: members.max(1),
                concurrency: c.concurrency,
                settle: secs(settle),
                prefix: format!("p{}", std::process::id()),
            };
            scenario::connections(&ctx, &p, "presence").await
        }
        Scenario::Publish {
            requesters,
            duration,
            max,
            subscribers,
            pad,
        } => {
            let p = Publish {
                requesters,
                duration: secs(duration),
                max,
                subscribers,
                pad,
            };
            scenario::publish(&ctx, &p).await
        }
        Scenario::Floor { .. } | Scenario::NullServer { .. } => {
            unreachable!("handled before the context is built")
        }
        Scenario::Slow { d, slow } => {
            let mut p = d.delivery("slow");
            p.slow_consumers = slow;
            scenario::delivery(&ctx, &p, "slow").await
        }
    }
}

/// A few lines for people: the scalar figures, then latency.
fn human(v: &Value) -> String {
    let mut out = format!(
        "== {} {}\n",
        v["scenario"].as_str().unwrap_or("?"),
        v["label"].as_str().unwrap_or("")
    );
    let Some(m) = v.as_object() else {
        return out;
    };
    let mut line = String::new();
    for (k, val) in m {
        if matches!(k.as_str(), "scenario" | "label") || val.is_null() {
            continue;
        }
        let text = match val {
            Value::Object(o) => {
                let inner: Vec<String> = o
                    .iter()
                    .filter(|(_, x)| !x.is_object() && !x.is_array())
                    .map(|(ik, x)| format!("{ik}={x}"))
                    .collect();
                if inner.is_empty() {
                    continue;
                }
                format!("{k}: {}", inner.join(" "))
            }
            Value::Array(a) if a.is_empty() => continue,
            Value::Array(a) => format!("{k}: {}", serde_json::to_string(a).unwrap_or_default()),
            x => format!("{k}={x}"),
        };
        if val.is_object() || val.is_array() {
            out.push_str(&format!("  {text}\n"));
        } else {
            if line.len() + text.len() > 100 {
                out.push_str(&format!("  {line}\n"));
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&text);
        }
    }
    if !line.is_empty() {
        out.push_str(&format!("  {line}\n"));
    }
    out
}
