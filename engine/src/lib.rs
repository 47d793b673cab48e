//! `pq-engine`: OT extension ([`ot`]), the protocol library ([`proto`]) and the networks
//! ([`nn`]) of PrivQuant-RS.

pub mod cost;
pub mod nn;
pub mod ot;
pub mod party;
pub mod plan;
pub mod profile;
pub mod proto;
pub mod shares;

pub use cost::{Cost, Objective};
pub use pq_netsim::channel::Role;
pub use profile::Profile;
pub use shares::Shares;
