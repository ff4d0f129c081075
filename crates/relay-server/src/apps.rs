//! The configured applications and their runtime state. No protocol rules here.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use parking_lot::Mutex;
use pusher_wire::{api::ApiLimits, presence::PresenceLimits, webhook::WebhookEvent, AppPolicy};
use tokio::sync::mpsc;

use std::time::Instant;

use pusher_wire::{
    presence::{PresenceError, PresenceMember, UserData},
    ChannelName, ErrorCode, ServerMessage, SocketId,
};

use crate::{
    cluster::{BusMessage, Cluster, PresenceJoin},
    config::{AppConfig, Config},
    hub::{
        encode, AppHub, ChannelCounts, JoinOptions, JoinOutcome, LeaveOutcome, Outbox, Publication,
    },
    metrics::Metrics,
    webhooks::pusher::Emitter,
};

/// One application at run time: its configuration, its channel registry and its counters.
#[derive(Debug)]
pub struct App {
    /// The configuration.
    pub config: AppConfig,
    /// The channel registry: the one way to channel state.
    pub hub: AppHub,
    /// The live debug feed of the console.
    pub feed: crate::console::Feed,
    connections: AtomicUsize,
    max_frame_bytes: usize,
    max_channel_name_len: usize,
    webhooks: Option<Emitter>,
    webhook_events: Mutex<Option<mpsc::Receiver<WebhookEvent>>>,
    metrics: Arc<Metrics>,
    cluster: Option<Arc<Cluster>>,
}

impl App {
    /// The app's rules as the protocol state machine needs them.
    pub fn policy(&self) -> AppPolicy<'_> {
        AppPolicy {
            key: &self.config.key,
            secret: &self.config.secret,
            client_events: self.config.enable_client_messages,
            user_authentication: self.config.enable_user_authentication,
            client_events_per_second: self.config.max_client_events_per_second,
            max_event_bytes: self.config.max_event_payload_bytes,
            max_channel_name_len: self.max_channel_name_len,
            max_frame_bytes: self.max_frame_bytes,
            presence: self.presence_limits(),
        }
    }

    /// Presence limits.
    pub fn presence_limits(&self) -> PresenceLimits {
        PresenceLimits {
            max_members: self.config.max_presence_members,
            max_user_info_bytes: self.config.max_presence_user_info_bytes,
            ..PresenceLimits::default()
        }
    }

    /// HTTP API limits.
    pub fn api_limits(&self) -> ApiLimits {
        ApiLimits {
            max_event_bytes: self.config.max_event_payload_bytes,
            max_channels: self.config.max_channels_per_trigger,
            max_batch: self.config.max_batch_size,
            max_channel_name_len: self.max_channel_name_len,
        }
    }

    /// Takes a connection slot; `false` when the app is at `max_connections`.
    pub fn try_connect(&self) -> bool {
        let max = self.config.max_connections;
        self.connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (max == 0 || n < max).then_some(n + 1)
            })
            .is_ok()
    }

    /// Gives a connection slot back.
    pub fn disconnect(&self) {
        self.connections.fetch_sub(1, Ordering::AcqRel);
    }

    /// Queues a Pusher-format webhook event if the app has webhooks; never waits.
    pub fn webhook(&self, event: impl FnOnce() -> WebhookEvent) {
        if let Some(emitter) = &self.webhooks {
            if !emitter.emit(event()) {
                self.metrics.count("relay_webhook_events_dropped_total", "");
            }
        }
    }

    /// The receiving end of the app's webhook events, once (for the batcher task).
    pub fn take_webhook_events(&self) -> Option<mpsc::Receiver<WebhookEvent>> {
        self.webhook_events.lock().take()
    }

    /// The cluster, when it is configured and Redis answers.
    fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref().filter(|c| c.is_up())
    }

    /// Joins a channel: locally, and in the cluster (roster, member limit, first member,
    /// occupied) when there is one. See [`AppHub::join`].
    pub async fn join(
        &self,
        socket: SocketId,
        outbox: &Outbox,
        channel: &ChannelName,
        member: Option<PresenceMember>,
        now: Instant,
    ) -> Result<JoinOutcome, PresenceError> {
        let Some(cluster) = self.cluster() else {
            return self
                .hub
                .join(socket, outbox, channel, member, now, JoinOptions::default());
        };
        let id = &self.config.id;
        let mut options = JoinOptions::default();
        let mut in_cluster = None;
        if let Some(m) = member.as_ref().filter(|_| channel.kind().is_presence()) {
            let info = m.user_info.as_ref().map(|i| i.get());
            match cluster
                .presence_join(
                    id,
                    channel.as_str(),
                    &m.user_id,
                    info,
                    self.config.max_presence_members,
                )
                .await
            {
                Some(PresenceJoin::Full) => {
                    return Err(PresenceError::TooManyMembers {
                        max: self.config.max_presence_members,
                    })
                }
                Some(PresenceJoin::Joined { new, roster }) => {
                    options.roster = Some(roster);
                    options.announce_member = Some(new);
                    in_cluster = Some((m.user_id.clone(), m.user_info.clone(), new));
                }
                None => {}
            }
        }
        if channel.kind().is_cache() {
            options.cached = cluster.cache_get(id, channel.as_str()).await;
        }
        let mut outcome = match self.hub.join(socket, outbox, channel, member, now, options) {
            Ok(outcome) => outcome,
            Err(error) => {
                if let Some((user, _, _)) = &in_cluster {
                    cluster.presence_leave(id, channel.as_str(), user).await;
                }
                return Err(error);
            }
        };
        if let Some((user, info, true)) = &in_cluster {
            let frame = encode(ServerMessage::MemberAdded {
                channel: channel.as_str(),
                user_id: user,
                user_info: info.as_deref(),
            });
            cluster.publish(id, channel.as_str(), &frame, None);
        }
        let local = self.hub.counts(channel.as_str()).subscriptions;
        if let Some((old, new)) = cluster.subscriptions(id, channel.as_str(), local).await {
            outcome.occupied = old == 0 && new > 0;
        }
        Ok(outcome)
    }

    /// Leaves a channel: locally, and in the cluster (last member, vacated). See
    /// [`AppHub::leave`].
    pub async fn leave(
        &self,
        socket: SocketId,
        channel: &ChannelName,
        user_id: Option<&str>,
    ) -> LeaveOutcome {
        let Some(cluster) = self.cluster() else {
            return self.hub.leave(socket, channel, user_id, true);
        };
        let id = &self.config.id;
        let mut outcome = self.hub.leave(socket, channel, user_id, false);
        if let Some(user) = user_id.filter(|_| channel.kind().is_presence()) {
            let gone = cluster.presence_leave(id, channel.as_str(), user).await;
            let announce = gone.unwrap_or(outcome.member_removed.is_some());
            if announce {
                let frame = encode(ServerMessage::MemberRemoved {
                    channel: channel.as_str(),
                    user_id: user,
                });
                self.hub.deliver(channel.as_str(), &frame, None);
                if gone.is_some() {
                    cluster.publish(id, channel.as_str(), &frame, None);
                }
                outcome.member_removed = Some(user.into());
            } else {
                outcome.member_removed = None;
            }
        }
        let local = self.hub.counts(channel.as_str()).subscriptions;
        if let Some((old, new)) = cluster.subscriptions(id, channel.as_str(), local).await {
            outcome.vacated = old > 0 && new == 0;
        }
        outcome
    }

    /// Publishes an event: to local subscribers now, and to the other nodes' through the bus.
    /// Returns the frames queued on this node.
    pub fn publish(
        &self,
        channel: &ChannelName,
        publication: &Publication<'_>,
        now: Instant,
    ) -> usize {
        let published = self.hub.publish(channel, publication, now);
        if let Some(cluster) = self.cluster() {
            let except = publication.except.map(|s| s.to_string());
            cluster.publish(&self.config.id, channel.as_str(), &published.frame, except);
            if let Some(cached) = published.cached {
                let (cluster, id, channel) =
                    (cluster.clone(), self.config.id.clone(), channel.to_string());
                tokio::spawn(async move { cluster.cache_set(&id, &channel, &cached).await });
            }
        }
        published.delivered
    }

    /// Signs a socket in; watchers everywhere learn the user came online (first socket in the
    /// cluster), and the socket gets its watchlist's status.
    pub async fn signin(&self, socket: SocketId, outbox: &Outbox, user: &UserData) {
        let Some(first_here) = self.hub.signin(socket, outbox, user) else {
            return;
        };
        let cluster = self.cluster();
        let first = match cluster {
            Some(c) => c
                .user_in(&self.config.id, &user.id)
                .await
                .unwrap_or(first_here),
            None => first_here,
        };
        if first {
            self.hub.notify_watchers(&user.id, true);
            if let Some(c) = cluster {
                c.send(BusMessage::Watch {
                    n: c.node_id().to_owned(),
                    a: self.config.id.clone(),
                    u: user.id.to_string(),
                    on: true,
                });
            }
        }
        if !user.watchlist.is_empty() {
            let online = match cluster {
                Some(c) => c.online(&self.config.id, &user.watchlist).await,
                None => None,
            }
            .unwrap_or_else(|| self.hub.online(&user.watchlist));
            self.hub.watchlist_status(outbox, &user.watchlist, &online);
        }
    }

    /// Signs a socket out; watchers everywhere learn the user went offline (last socket).
    pub async fn signout(&self, socket: SocketId) {
        let Some((user, last_here)) = self.hub.signout(socket) else {
            return;
        };
        let cluster = self.cluster();
        let last = match cluster {
            Some(c) => c
                .user_out(&self.config.id, &user)
                .await
                .unwrap_or(last_here),
            None => last_here,
        };
        if last {
            self.hub.notify_watchers(&user, false);
            if let Some(c) = cluster {
                c.send(BusMessage::Watch {
                    n: c.node_id().to_owned(),
                    a: self.config.id.clone(),
                    u: user.to_string(),
                    on: false,
                });
            }
        }
    }

    /// Closes every connection signed in as `user_id`, on every node, with 4009.
    pub fn terminate_user(&self, user_id: &str) {
        self.hub.terminate_user(user_id, ErrorCode::Unauthorized);
        if let Some(c) = self.cluster() {
            c.send(BusMessage::Terminate {
                n: c.node_id().to_owned(),
                a: self.config.id.clone(),
                u: user_id.to_owned(),
            });
        }
    }

    /// Counts of a channel, cluster-wide when there is a cluster.
    pub async fn counts(&self, channel: &str) -> ChannelCounts {
        match self.cluster() {
            Some(c) => match c.counts(&self.config.id, channel).await {
                Some(counts) => counts,
                None => self.hub.counts(channel),
            },
            None => self.hub.counts(channel),
        }
    }

    /// Occupied channels, cluster-wide when there is a cluster.
    pub async fn channels(&self, prefix: &str) -> Vec<(Arc<str>, ChannelCounts)> {
        match self.cluster() {
            Some(c) => match c.channels(&self.config.id, prefix).await {
                Some(list) => list,
                None => self.hub.channels(prefix),
            },
            None => self.hub.channels(prefix),
        }
    }

    /// Users of a presence channel, cluster-wide when there is a cluster.
    pub async fn users(&self, channel: &str) -> Vec<String> {
        match self.cluster() {
            Some(c) => match c.users(&self.config.id, channel).await {
                Some(users) => users,
                None => self.hub.users(channel),
            },
            None => self.hub.users(channel),
        }
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Acquire)
    }
}

/// All applications, by id and by key.
#[derive(Debug, Default)]
pub struct Apps {
    by_id: HashMap<String, Arc<App>>,
    by_key: HashMap<String, Arc<App>>,
}

impl Apps {
    /// Builds the apps of a configuration.
    pub fn new(config: &Config, metrics: &Arc<Metrics>, cluster: Option<Arc<Cluster>>) -> Apps {
        let mut apps = Apps::default();
        for app in &config.apps {
            let (webhooks, webhook_events) = if app.webhooks.is_empty() {
                (None, None)
            } else {
                let (emitter, rx) = Emitter::new();
                (Some(emitter), Some(rx))
            };
            let app = Arc::new(App {
                hub: AppHub::new(
                    metrics.clone(),
                    app.max_presence_members,
                    app.subscription_count_events,
                ),
                config: app.clone(),
                feed: crate::console::Feed::default(),
                connections: AtomicUsize::new(0),
                max_frame_bytes: config.max_frame_bytes,
                max_channel_name_len: config.max_channel_name_length,
                webhooks,
                webhook_events: Mutex::new(webhook_events),
                metrics: metrics.clone(),
                cluster: cluster.clone(),
            });
            apps.by_id.insert(app.config.id.clone(), app.clone());
            apps.by_key.insert(app.config.key.clone(), app);
        }
        apps
    }

    /// The app with this id.
    pub fn by_id(&self, id: &str) -> Option<&Arc<App>> {
        self.by_id.get(id)
    }

    /// The app with this key.
    pub fn by_key(&self, key: &str) -> Option<&Arc<App>> {
        self.by_key.get(key)
    }

    /// Every app.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<App>> {
        self.by_id.values()
    }
}
