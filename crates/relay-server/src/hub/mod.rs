//! The channel registry of one app: who is subscribed where, presence rosters, signed-in users,
//! watchlists and cache channels.
//!
//! [`AppHub`]'s methods are the seam through which the protocol code (the WebSocket sessions and
//! the HTTP API) reaches channel state: broadcast, join/leave with presence, channel queries,
//! users. A multi-node implementation attaches behind these methods without touching callers.
//!
//! The local state is a shared registry under `parking_lot` locks, not an actor: a broadcast
//! takes the subscribers under a read lock, encodes the frame once and, with the lock
//! released, writes the shared bytes to each subscriber's socket ([`Outbox::send`]) without
//! awaiting anything. Joins and leaves send their few frames under the lock, so a member's
//! `member_added` and `member_removed` reach everyone in the same order.

mod outbox;

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use bytestring::ByteString;
use parking_lot::{Mutex, RwLock};
use pusher_wire::{
    presence::{roster_json, PresenceError, PresenceMember, UserData},
    ChannelName, ErrorCode, EventData, ServerMessage, SocketId, WatchlistEvent,
};
use serde_json::value::RawValue;

pub use outbox::{KillSwitch, Outbound, Outbox, WsFrame};

use crate::metrics::Metrics;

/// How long a cache channel keeps its last event (cache channels doc: "up to 30 minutes").
pub const CACHE_TTL: Duration = Duration::from_secs(30 * 60);

/// What a join changed, for webhooks and metrics.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct JoinOutcome {
    /// The channel went from no subscribers to one.
    pub occupied: bool,
    /// A new presence user appeared (first socket of that user).
    pub member_added: Option<Box<str>>,
    /// A cache channel had nothing cached.
    pub cache_miss: bool,
}

/// What a leave changed.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct LeaveOutcome {
    /// The channel has no subscribers left.
    pub vacated: bool,
    /// The user's last socket left the presence channel.
    pub member_removed: Option<Box<str>>,
}

/// What [`AppHub::publish`] did.
#[derive(Clone, Debug)]
pub struct Published {
    /// Frames queued on this node.
    pub delivered: usize,
    /// The encoded frame.
    pub frame: ByteString,
    /// The event now cached, for cache channels.
    pub cached: Option<CachedEvent>,
}

/// An event to publish on a channel.
#[derive(Clone, Copy, Debug)]
pub struct Publication<'a> {
    /// The event name.
    pub event: &'a str,
    /// The payload.
    pub data: EventData<'a>,
    /// The sender's presence user id (client events on presence channels).
    pub user_id: Option<&'a str>,
    /// A connection that must not receive it.
    pub except: Option<SocketId>,
    /// Whether a cache channel stores it (HTTP API events; never client events).
    pub cache: bool,
}

/// How a join is decided when the channel state is cluster-wide. `Default` is the local mode:
/// everything from this node's own registry.
#[derive(Clone, Debug, Default)]
pub struct JoinOptions {
    /// The presence roster JSON to send in `subscription_succeeded` (cluster-wide).
    pub roster: Option<String>,
    /// Whether the member is new (cluster-wide): local subscribers get `member_added`.
    pub announce_member: Option<bool>,
    /// The cache channel's event as the cluster has it (`Some(None)`: nothing cached).
    pub cached: Option<Option<CachedEvent>>,
}

/// One channel of this node, for cluster resynchronization.
#[derive(Clone, Debug)]
pub struct ChannelSnapshot {
    /// The channel.
    pub channel: Arc<str>,
    /// Local subscriptions.
    pub subscriptions: usize,
    /// Presence members here: user id, user info JSON, local sockets.
    pub members: Vec<(Box<str>, Option<String>, u32)>,
}

/// Counts of one channel.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct ChannelCounts {
    /// Subscribed connections.
    pub subscriptions: usize,
    /// Distinct presence users (presence channels only).
    pub users: Option<usize>,
}

/// The event kept by a cache channel.
#[derive(Clone, Debug)]
pub struct CachedEvent {
    /// The event name.
    pub event: Box<str>,
    /// The data string as subscribers decode it.
    pub data: String,
    frame: ByteString,
    expires: Instant,
}

impl CachedEvent {
    /// A cached event with its encoded frame, expiring at `expires`.
    pub fn new(event: &str, data: String, frame: ByteString, expires: Instant) -> CachedEvent {
        CachedEvent {
            event: event.into(),
            data,
            frame,
            expires,
        }
    }

    /// The encoded frame sent to late subscribers.
    pub fn frame(&self) -> &ByteString {
        &self.frame
    }

    /// Seconds left before it expires.
    pub fn ttl(&self, now: Instant) -> u64 {
        self.expires.saturating_duration_since(now).as_secs()
    }
}

#[derive(Debug, Default)]
struct Channel {
    subscribers: HashMap<SocketId, Outbox>,
    /// Presence members by user id (empty for other kinds).
    members: HashMap<Box<str>, Member>,
    cache: Option<CachedEvent>,
}

#[derive(Debug)]
struct Member {
    info: Option<Box<RawValue>>,
    sockets: u32,
}

#[derive(Debug, Default)]
struct Users {
    /// Signed-in sockets by user id.
    sockets: HashMap<Box<str>, Vec<(SocketId, Outbox)>>,
    /// Sockets watching a user id.
    watchers: HashMap<Box<str>, HashMap<SocketId, Outbox>>,
    /// Each signed-in socket's user and watchlist.
    by_socket: HashMap<SocketId, (Box<str>, Vec<Box<str>>)>,
}

/// The registry of one app.
#[derive(Debug)]
pub struct AppHub {
    channels: RwLock<HashMap<Arc<str>, Channel>>,
    users: Mutex<Users>,
    metrics: Arc<Metrics>,
    max_presence_members: usize,
    subscription_count_events: bool,
    changed_counts: Mutex<HashSet<Arc<str>>>,
}

impl AppHub {
    /// An empty registry.
    pub fn new(
        metrics: Arc<Metrics>,
        max_presence_members: usize,
        subscription_count_events: bool,
    ) -> AppHub {
        AppHub {
            channels: RwLock::new(HashMap::new()),
            users: Mutex::new(Users::default()),
            metrics,
            max_presence_members,
            subscription_count_events,
            changed_counts: Mutex::new(HashSet::new()),
        }
    }

    /// Adds a socket to a channel and queues, in order, `subscription_succeeded` (with the
    /// roster for presence), then the cached event or `pusher:cache_miss` for cache channels.
    /// Other presence members get `member_added` if the user is new to the channel.
    pub fn join(
        &self,
        socket: SocketId,
        outbox: &Outbox,
        channel: &ChannelName,
        member: Option<PresenceMember>,
        now: Instant,
        options: JoinOptions,
    ) -> Result<JoinOutcome, PresenceError> {
        let kind = channel.kind();
        let mut channels = self.channels.write();
        let state = channels.entry(channel.as_arc().clone()).or_default();
        let mut outcome = JoinOutcome::default();
        let mut sent = 0u64;
        let mut bytes = 0u64;
        // `len`: the Pusher message's length, as the metrics count it.
        let mut queue = |outbox: &Outbox, wire: &WsFrame, len: usize| {
            if outbox.send(wire) {
                sent += 1;
                bytes += len as u64;
            }
        };

        if let Some(member) = member.filter(|_| kind.is_presence()) {
            let is_new = !state.members.contains_key(&member.user_id);
            // In a cluster the limit was checked cluster-wide before the join.
            if options.roster.is_none()
                && is_new
                && state.members.len() >= self.max_presence_members
            {
                if state.subscribers.is_empty() {
                    channels.remove(channel.as_str());
                }
                return Err(PresenceError::TooManyMembers {
                    max: self.max_presence_members,
                });
            }
            state.subscribers.insert(socket, outbox.clone());
            let entry = state
                .members
                .entry(member.user_id.clone())
                .or_insert_with(|| Member {
                    info: member.user_info.clone(),
                    sockets: 0,
                });
            entry.sockets += 1;
            let roster = options.roster.clone().unwrap_or_else(|| {
                roster_json(
                    state
                        .members
                        .iter()
                        .map(|(id, m)| (&**id, m.info.as_deref())),
                )
            });
            let frame = ServerMessage::SubscriptionSucceeded {
                channel: channel.as_str(),
                presence: Some(&roster),
            }
            .encode();
            queue(outbox, &WsFrame::text(&frame), frame.len());
            if options.announce_member.unwrap_or(is_new) {
                let frame = encode(ServerMessage::MemberAdded {
                    channel: channel.as_str(),
                    user_id: &member.user_id,
                    user_info: member.user_info.as_deref(),
                });
                let wire = WsFrame::text(&frame);
                for (id, other) in &state.subscribers {
                    if *id != socket {
                        queue(other, &wire, frame.len());
                    }
                }
                outcome.member_added = Some(member.user_id);
            }
        } else {
            state.subscribers.insert(socket, outbox.clone());
            let frame = ServerMessage::SubscriptionSucceeded {
                channel: channel.as_str(),
                presence: None,
            }
            .encode();
            queue(outbox, &WsFrame::text(&frame), frame.len());
        }
        outcome.occupied = state.subscribers.len() == 1;

        if kind.is_cache() {
            if let Some(given) = options.cached {
                state.cache = given;
            }
            match state.cache.as_ref().filter(|c| c.expires > now) {
                Some(cached) => {
                    queue(outbox, &WsFrame::text(&cached.frame), cached.frame.len());
                }
                None => {
                    state.cache = None;
                    outcome.cache_miss = true;
                    let frame = ServerMessage::CacheMiss {
                        channel: channel.as_str(),
                    }
                    .encode();
                    queue(outbox, &WsFrame::text(&frame), frame.len());
                }
            }
        }
        drop(channels);
        self.count_changed(channel);
        self.metrics.sent(sent, bytes);
        self.metrics
            .subscriptions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(outcome)
    }

    /// Removes a socket from a channel. When this was the user's last socket here,
    /// `member_removed` is reported, and sent to the other local members if `announce` (in a
    /// cluster the caller decides, then uses [`AppHub::deliver`]).
    pub fn leave(
        &self,
        socket: SocketId,
        channel: &ChannelName,
        user_id: Option<&str>,
        announce: bool,
    ) -> LeaveOutcome {
        let mut channels = self.channels.write();
        let Some(state) = channels.get_mut(channel.as_str()) else {
            return LeaveOutcome::default();
        };
        if state.subscribers.remove(&socket).is_none() {
            return LeaveOutcome::default();
        }
        self.metrics
            .subscriptions
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        let mut outcome = LeaveOutcome::default();
        let mut sent = 0u64;
        let mut bytes = 0u64;
        if let Some(user_id) = user_id {
            if let Some(member) = state.members.get_mut(user_id) {
                member.sockets -= 1;
                if member.sockets == 0 {
                    state.members.remove(user_id);
                    if announce {
                        let frame = encode(ServerMessage::MemberRemoved {
                            channel: channel.as_str(),
                            user_id,
                        });
                        let wire = WsFrame::text(&frame);
                        for other in state.subscribers.values() {
                            if other.send(&wire) {
                                sent += 1;
                                bytes += frame.len() as u64;
                            }
                        }
                    }
                    outcome.member_removed = Some(user_id.into());
                }
            }
        }
        if state.subscribers.is_empty() {
            outcome.vacated = true;
            // A cache channel keeps its event while it is fresh, even when nobody listens.
            if state
                .cache
                .as_ref()
                .is_none_or(|c| c.expires <= Instant::now())
            {
                channels.remove(channel.as_str());
            }
        }
        drop(channels);
        self.count_changed(channel);
        self.metrics.sent(sent, bytes);
        outcome
    }

    /// Notes that a channel's subscription count changed; subscribers get one
    /// `pusher_internal:subscription_count` per flush ([`AppHub::take_changed_counts`]), not one
    /// per join or leave (spec §2.5: at most about one a second).
    fn count_changed(&self, channel: &ChannelName) {
        if self.subscription_count_events && !channel.kind().is_presence() {
            self.changed_counts.lock().insert(channel.as_arc().clone());
        }
    }

    /// The channels whose count changed since the last call.
    pub fn take_changed_counts(&self) -> Vec<Arc<str>> {
        self.changed_counts.lock().drain().collect()
    }

    /// Sends an already encoded frame to this node's subscribers of a channel but `except`
    /// (frames relayed from other nodes). Returns the number queued.
    pub fn deliver(&self, channel: &str, frame: &ByteString, except: Option<SocketId>) -> usize {
        let targets = match self.channels.read().get(channel) {
            Some(state) => recipients(state, except),
            None => return 0,
        };
        self.fan_out(&targets, frame)
    }

    /// Publishes an event on a channel to every subscriber but `except`; stores it when the
    /// channel is a cache channel and the event asks for it. Returns the frames queued and the
    /// encoded frame (for other nodes).
    pub fn publish(
        &self,
        channel: &ChannelName,
        event: &Publication<'_>,
        now: Instant,
    ) -> Published {
        let Publication {
            event,
            data,
            user_id,
            except,
            cache,
        } = *event;
        let frame = encode(ServerMessage::Event {
            event,
            channel: Some(channel.as_str()),
            data,
            user_id,
        });
        if cache && channel.kind().is_cache() {
            let text = match data {
                EventData::Raw(raw) => serde_json::from_str::<String>(raw.get())
                    .unwrap_or_else(|_| raw.get().to_owned()),
                EventData::Text(text) => text.to_owned(),
            };
            let cached = CachedEvent {
                event: event.into(),
                data: text,
                frame: frame.clone(),
                expires: now + CACHE_TTL,
            };
            let targets = {
                let mut channels = self.channels.write();
                let state = channels.entry(channel.as_arc().clone()).or_default();
                state.cache = Some(cached.clone());
                recipients(state, except)
            };
            let delivered = self.fan_out(&targets, &frame);
            return Published {
                delivered,
                frame,
                cached: Some(cached),
            };
        }
        let delivered = self.deliver(channel.as_str(), &frame, except);
        Published {
            delivered,
            frame,
            cached: None,
        }
    }

    /// Writes one frame to every target: encoded once, the same bytes for all of them.
    fn fan_out(&self, targets: &[Outbox], frame: &ByteString) -> usize {
        let wire = WsFrame::text(frame);
        let sent = targets.iter().filter(|outbox| outbox.send(&wire)).count();
        self.metrics.sent(sent as u64, (sent * frame.len()) as u64);
        sent
    }

    /// Counts of one channel (zero when unoccupied).
    pub fn counts(&self, channel: &str) -> ChannelCounts {
        let channels = self.channels.read();
        match channels.get(channel) {
            Some(state) => ChannelCounts {
                subscriptions: state.subscribers.len(),
                users: ChannelName::parse(channel)
                    .ok()
                    .filter(|c| c.kind().is_presence())
                    .map(|_| state.members.len()),
            },
            None => ChannelCounts::default(),
        }
    }

    /// Occupied channels whose name starts with `prefix`, `#` channels left out (spec §12.8).
    pub fn channels(&self, prefix: &str) -> Vec<(Arc<str>, ChannelCounts)> {
        let channels = self.channels.read();
        channels
            .iter()
            .filter(|(name, state)| {
                !state.subscribers.is_empty() && name.starts_with(prefix) && !name.starts_with('#')
            })
            .map(|(name, state)| {
                let presence = pusher_wire::ChannelKind::of(name).is_presence();
                (
                    name.clone(),
                    ChannelCounts {
                        subscriptions: state.subscribers.len(),
                        users: presence.then_some(state.members.len()),
                    },
                )
            })
            .collect()
    }

    /// Distinct user ids of a presence channel.
    pub fn users(&self, channel: &str) -> Vec<String> {
        let channels = self.channels.read();
        channels
            .get(channel)
            .map(|state| state.members.keys().map(|id| id.to_string()).collect())
            .unwrap_or_default()
    }

    /// The fresh cached event of a cache channel.
    pub fn cached(&self, channel: &str, now: Instant) -> Option<CachedEvent> {
        let channels = self.channels.read();
        channels
            .get(channel)
            .and_then(|state| state.cache.clone())
            .filter(|c| c.expires > now)
    }

    /// Registers a signed-in socket and its watchlist. Returns whether it is the user's first
    /// socket on this node (the caller announces the user online, see
    /// [`AppHub::notify_watchers`]) and `None` when the socket was already signed in as this user.
    pub fn signin(&self, socket: SocketId, outbox: &Outbox, user: &UserData) -> Option<bool> {
        let mut users = self.users.lock();
        if let Some((previous, _)) = users.by_socket.get(&socket) {
            if *previous == user.id {
                return None;
            }
        }
        let sockets = users.sockets.entry(user.id.clone()).or_default();
        let first = sockets.is_empty();
        sockets.push((socket, outbox.clone()));
        for watched in &user.watchlist {
            users
                .watchers
                .entry(watched.clone())
                .or_default()
                .insert(socket, outbox.clone());
        }
        users
            .by_socket
            .insert(socket, (user.id.clone(), user.watchlist.clone()));
        Some(first)
    }

    /// Which of `ids` have a signed-in socket on this node.
    pub fn online(&self, ids: &[Box<str>]) -> Vec<bool> {
        let users = self.users.lock();
        ids.iter()
            .map(|id| users.sockets.get(id).is_some_and(|s| !s.is_empty()))
            .collect()
    }

    /// Sends a watchlist snapshot to one socket: who is online, who is offline.
    pub fn watchlist_status(&self, outbox: &Outbox, ids: &[Box<str>], online: &[bool]) {
        if ids.is_empty() {
            return;
        }
        let on: Vec<&str> = ids
            .iter()
            .zip(online)
            .filter(|(_, on)| **on)
            .map(|(id, _)| &**id)
            .collect();
        let off: Vec<&str> = ids
            .iter()
            .zip(online)
            .filter(|(_, on)| !**on)
            .map(|(id, _)| &**id)
            .collect();
        let mut events = Vec::new();
        if !on.is_empty() {
            events.push(WatchlistEvent::Online(&on));
        }
        if !off.is_empty() {
            events.push(WatchlistEvent::Offline(&off));
        }
        outbox.send(&WsFrame::text(
            &ServerMessage::Watchlist { events: &events }.encode(),
        ));
    }

    /// Tells this node's watchers of `user_id` that it came online or went offline.
    pub fn notify_watchers(&self, user_id: &str, online: bool) {
        let users = self.users.lock();
        let Some(watchers) = users.watchers.get(user_id) else {
            return;
        };
        let ids = [user_id];
        let event = if online {
            WatchlistEvent::Online(&ids)
        } else {
            WatchlistEvent::Offline(&ids)
        };
        let frame = WsFrame::text(&ServerMessage::Watchlist { events: &[event] }.encode());
        for watcher in watchers.values() {
            watcher.send(&frame);
        }
    }

    /// Removes a socket from the signed-in users. Returns its user and whether that was the
    /// user's last socket on this node (the caller announces the user offline).
    pub fn signout(&self, socket: SocketId) -> Option<(Box<str>, bool)> {
        let mut users = self.users.lock();
        let (user_id, watchlist) = users.by_socket.remove(&socket)?;
        for watched in &watchlist {
            if let Some(watchers) = users.watchers.get_mut(watched) {
                watchers.remove(&socket);
                if watchers.is_empty() {
                    users.watchers.remove(watched);
                }
            }
        }
        let last = match users.sockets.get_mut(&user_id) {
            Some(sockets) => {
                sockets.retain(|(id, _)| *id != socket);
                sockets.is_empty()
            }
            None => false,
        };
        if last {
            users.sockets.remove(&user_id);
        }
        Some((user_id, last))
    }

    /// Every signed-in user of this node with its socket count (cluster resynchronization).
    pub fn signed_in_users(&self) -> Vec<(Box<str>, usize)> {
        let users = self.users.lock();
        users
            .sockets
            .iter()
            .map(|(id, sockets)| (id.clone(), sockets.len()))
            .collect()
    }

    /// This node's channels with their subscriber counts and presence members (user id, info,
    /// local socket count), for cluster resynchronization.
    pub fn snapshot(&self) -> Vec<ChannelSnapshot> {
        let channels = self.channels.read();
        channels
            .iter()
            .filter(|(_, state)| !state.subscribers.is_empty())
            .map(|(name, state)| ChannelSnapshot {
                channel: name.clone(),
                subscriptions: state.subscribers.len(),
                members: state
                    .members
                    .iter()
                    .map(|(id, m)| {
                        (
                            id.clone(),
                            m.info.as_ref().map(|i| i.get().to_owned()),
                            m.sockets,
                        )
                    })
                    .collect(),
            })
            .collect()
    }

    /// Closes every connection signed in as `user_id` with `code`. Returns how many.
    pub fn terminate_user(&self, user_id: &str, code: ErrorCode) -> usize {
        let users = self.users.lock();
        users.sockets.get(user_id).map_or(0, |sockets| {
            for (_, outbox) in sockets {
                outbox.kill(code);
            }
            sockets.len()
        })
    }

    /// Drops channels that only kept an expired cached event (nobody subscribed since).
    pub fn sweep_cache(&self, now: Instant) -> usize {
        let mut channels = self.channels.write();
        let before = channels.len();
        channels.retain(|_, state| {
            !state.subscribers.is_empty() || state.cache.as_ref().is_some_and(|c| c.expires > now)
        });
        before - channels.len()
    }

    /// Number of occupied channels.
    pub fn channel_count(&self) -> usize {
        self.channels
            .read()
            .values()
            .filter(|s| !s.subscribers.is_empty())
            .count()
    }
}

/// The subscribers of a channel but `except`, taken under the registry's lock so that the
/// writes to their sockets happen after it is released: a large fan-out never holds up joins
/// and leaves on other threads.
fn recipients(state: &Channel, except: Option<SocketId>) -> Vec<Outbox> {
    state
        .subscribers
        .iter()
        .filter(|(id, _)| Some(**id) != except)
        .map(|(_, outbox)| outbox.clone())
        .collect()
}

/// Encodes a server message once, as shared bytes.
pub fn encode(message: ServerMessage<'_>) -> ByteString {
    ByteString::from(message.encode())
}
