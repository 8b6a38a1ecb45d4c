//! The per-event work that needs no I/O, with criterion: parsing and validating a full property
//! set, deciding what an event asks for, and building the answer's body.
//!
//! ```text
//! cargo bench --bench in_process
//! ```
//!
//! The inputs are the sample events in `events/`, so the figures are for what CloudFormation
//! really sends.

use cfn_ivs_recording::answer::{self, Answer};
use cfn_ivs_recording::event::Request;
use cfn_ivs_recording::lifecycle::{self, Action};
use cfn_ivs_recording::properties;
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::hint::black_box;

const CREATE_EVENT: &str = include_str!("../events/create.json");
const UPDATE_TAGS_EVENT: &str = include_str!("../events/update-tags.json");
const ARN: &str = "arn:aws:ivs:us-east-1:123456789012:recording-configuration/AbCdEf123456";

fn event(text: &str) -> Value {
    serde_json::from_str(text).expect("the sample events are JSON")
}

fn request(event: Value) -> Request {
    Request::parse(event).expect("the sample events are custom-resource requests")
}

fn parse_properties(c: &mut Criterion) {
    let properties = event(CREATE_EVENT)["ResourceProperties"].take();
    c.bench_function("properties::parse (full set)", |b| {
        b.iter(|| properties::parse(black_box(&properties)))
    });
}

fn decide(c: &mut Criterion) {
    let create = request(event(CREATE_EVENT));
    assert!(matches!(
        lifecycle::decide(&create, None),
        Action::Create { .. }
    ));
    c.bench_function("lifecycle::decide (Create)", |b| {
        b.iter(|| lifecycle::decide(black_box(&create), None))
    });

    // The sample's placeholder stands for the ARN its Create answered.
    let mut update = event(UPDATE_TAGS_EVENT);
    update["PhysicalResourceId"] = json!(ARN);
    let update = request(update);
    assert!(matches!(
        lifecycle::decide(&update, None),
        Action::UpdateTags { .. }
    ));
    c.bench_function("lifecycle::decide (Update, tags only)", |b| {
        b.iter(|| lifecycle::decide(black_box(&update), None))
    });
}

fn build_body(c: &mut Criterion) {
    let identity = request(event(CREATE_EVENT)).identity;
    // What a successful Create answers.
    let data = BTreeMap::from([
        ("Arn".to_owned(), ARN.to_owned()),
        ("State".to_owned(), "ACTIVE".to_owned()),
        ("Name".to_owned(), "demo-recording".to_owned()),
    ]);
    let answer = Answer::success(
        ARN,
        format!("Recording configuration {ARN} is ACTIVE"),
        data,
    );
    c.bench_function("answer::body (SUCCESS with Data)", |b| {
        b.iter(|| answer::body(black_box(&identity), black_box(&answer)))
    });
}

criterion_group!(benches, parse_properties, decide, build_body);
criterion_main!(benches);
