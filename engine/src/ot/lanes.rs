//! Lanes: independent IKNP instances split from one base-OT setup (placeholder; filled below).
