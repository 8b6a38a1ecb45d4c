//! Time: the invocation's [`deadline`], and the [`backoff`] schedule every wait follows.

pub mod backoff;
pub mod deadline;
