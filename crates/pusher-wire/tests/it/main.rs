//! Integration tests that pin `pusher-wire` to the protocol (spec `pusher-protocol.md`).
//!
//! One test binary (STYLE rule 10). Data lives next to it: `tests/vectors/*.json` hold the
//! signature vectors of spec §11, `tests/golden/frames/*.json` the exact server frames. Time is
//! fake (`Instant`s computed from one base), nothing touches a socket.

mod api;
mod channel_names;
mod codes;
mod connection;
mod decode;
mod frames;
mod presence;
mod props;
mod support;
mod vectors;
mod webhook;
