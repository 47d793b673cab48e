//! Two-party protocols by the paper's names.
