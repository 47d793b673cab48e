//! Tests of the channel layer and the link model.
