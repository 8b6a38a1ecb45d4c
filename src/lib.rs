//! `Custom::IvsRecordingConfiguration`: a CloudFormation custom resource that creates, tags and
//! deletes Amazon IVS recording configurations, answering CloudFormation on every path.
//!
//! The Lambda entry point is `src/main.rs`; everything it runs lives here so that tests and the
//! local runner drive the very same code. Where to look:
//! - the request and its properties: [`event`], [`properties`];
//! - what to do, decided without I/O: [`lifecycle`], [`ownership`], [`arn`];
//! - doing it: [`actions`] (create, polling until ACTIVE, tagging, delete, and the clean-up
//!   when CloudFormation stops waiting for a create), asking it through [`cloudformation`];
//! - IVS: [`ivs`] (one SDK call each behind the [`ivs::IvsApi`] trait, and the wrapper that
//!   waits out throttling and IAM propagation within the deadline);
//! - the answer: [`answer`] (its body, and the PUT to the ResponseURL);
//! - around it all: [`handler`], [`config`], [`timing`], [`metrics`], [`logging`];
//! - the process: [`clients`] and [`https`].
#![warn(missing_docs)]

pub mod actions;
pub mod answer;
pub mod arn;
pub mod clients;
pub mod cloudformation;
pub mod config;
pub mod event;
pub mod handler;
pub mod https;
pub mod ivs;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod ownership;
pub mod properties;
pub mod timing;
