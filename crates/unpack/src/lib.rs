//! Read engine.
