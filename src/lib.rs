//! `Custom::IvsRecordingConfiguration`: a CloudFormation custom resource that creates, tags and
//! deletes Amazon IVS recording configurations, answering CloudFormation on every path.
//!
//! The Lambda entry point is `src/main.rs`; everything it runs lives here so that tests and the
//! local runner drive the very same code. Where to look:
//! - the request and its properties: [`event`], [`properties`];
//! - what to do, decided without I/O: [`lifecycle`], [`ownership`];
//! - doing it: [`create`] (with [`stabilize`] polling until ACTIVE), [`tagging`], [`delete`];
//! - when CloudFormation stops waiting (a create it cancelled): [`cancellation`], asking it
//!   through [`cloudformation`];
//! - IVS: [`ivs`] (one SDK call each, behind the [`ivs::IvsApi`] trait) and [`retry`] (waiting
//!   out throttling and IAM propagation within the deadline);
//! - the answer: [`answer`] (its body) and [`delivery`] (the PUT to the ResponseURL);
//! - around it all: [`handler`], [`config`], [`deadline`], [`metrics`], [`logging`].
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
