//! zkr: a ZooKeeper-compatible coordination service, thread-per-core on io_uring (glommio).
//!
//! ```text
//!  client TCP ─► core k: conn (frame, decode) ─► session FIFO
//!                   │ read                          │ write
//!                   ▼                               ▼
//!            znode arena (lock-free) ◄──┐     mesh ─► consensus core (core 0)
//!                   │                   │            prep (tree + changes in flight) ─► txn
//!                   ▼                   │            batch ─► sink (durable log seam)
//!            reply in session order     │            apply (single writer) ─┐
//!                   ▲                   └──────────────────────────────────┘
//!                   └──── replies + watch triggers over the mesh ◄──────────┘
//! ```
//!
//! Pure, deterministic parts (no I/O, clock or randomness): `proto` (wire codec), `tree`
//! (znodes, ACLs, watches), `session` (session table), `request` (prep and replies), `txn`.
//! Everything that touches sockets, files, threads or time lives in `server`.

pub mod cli;
pub mod config;
pub mod constants;
pub mod limits;
pub mod proto;
pub mod loadgen;
pub mod log;
pub mod request;
pub mod server;
pub mod session;
pub mod snapshot;
pub mod tree;
pub mod txn;
pub mod types;
