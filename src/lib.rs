//! `Custom::IvsRecordingConfiguration`: a CloudFormation custom resource that creates, tags and
//! deletes Amazon IVS recording configurations, answering CloudFormation on every path.
//!
//! The Lambda entry point is `src/main.rs`; everything it runs lives here so that tests and the
//! local runner drive the very same code.

pub mod backoff;
pub mod deadline;
pub mod event;
pub mod handler;
pub mod ivs;
pub mod lifecycle;
pub mod logging;
pub mod properties;
pub mod responder;
pub mod response;
pub mod stabilize;
