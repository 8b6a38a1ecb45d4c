//! The function's integration tests, in one binary: the handler over HTTP against the IVS
//! emulator and a capturing ResponseURL, the built binary against a fake Lambda Runtime API,
//! the fault matrix, hostile input, property tests and the SAM template.

mod account;
mod binary;
mod cancelled_create;
mod fault_matrix;
mod hostile_input;
mod lifecycle;
mod model_proves_validator;
mod properties_proptest;
mod template;
mod util;
