//! What the function does for a request, one action a file: [`create`] (with [`stabilize`]
//! polling a new configuration until ACTIVE), [`tagging`] (an Update of `Tags` only),
//! [`delete`], [`cancelled`] (when CloudFormation stops waiting for the resource), and
//! [`refusals`] (answers that need no call to IVS). Each ends in an [`Acted`].

pub mod cancelled;
pub mod create;
pub mod delete;
pub mod refusals;
pub mod stabilize;
pub mod tagging;

use crate::answer::Answer;
use std::time::Duration;

/// What an action ends with: the answer, and what the invocation's metrics report of it.
#[derive(Debug)]
pub struct Acted {
    /// The answer for CloudFormation.
    pub answer: Answer,
    /// From the create call to ACTIVE, when a configuration was made and became ACTIVE.
    pub time_to_active: Option<Duration>,
}

impl From<Answer> for Acted {
    fn from(answer: Answer) -> Self {
        Acted {
            answer,
            time_to_active: None,
        }
    }
}
