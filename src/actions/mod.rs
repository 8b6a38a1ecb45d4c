//! What the function does on IVS for a request, one action a file: [`create`] (with
//! [`stabilize`] polling a new configuration until ACTIVE), [`tagging`] (an Update of `Tags`
//! only), [`delete`], and [`cancelled`] (when CloudFormation stops waiting for the resource).

pub mod cancelled;
pub mod create;
pub mod delete;
pub mod stabilize;
pub mod tagging;
