//! What makes a recording configuration this resource's: the marker tag every configuration it
//! creates carries (the request that made it and the stack resource that owns it), and the
//! account, region and partition the function itself runs in. Pure: the decisions that use
//! these are in [`crate::lifecycle`], [`crate::actions::create`] and [`crate::actions::cancelled`].

use crate::event::Identity;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The one tag key the resource reserves: it records which CloudFormation request created a
/// configuration (so that a redelivered Create finds it instead of making a second one), and
/// the function's role may delete and retag only configurations that carry it.
pub const MARKER_TAG: &str = "cfn-ivs-recording:request-id";

/// The marker's value: the CloudFormation RequestId, when the configuration was created, the
/// stack resource that owns it, and whether a delivery of the request has settled on keeping it.
///
/// Concurrent deliveries of one request may each create a configuration before IVS's List
/// shows them the other's. Each then keeps the one already marked kept, or else the oldest, and
/// marks what it keeps: a create that lands late (its time is taken before the call) finds the
/// other delivery's configuration marked kept and gives way to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// The CloudFormation RequestId.
    pub request_id: String,
    /// Milliseconds since the Unix epoch at creation; 0 for a marker without a time.
    pub created_ms: u64,
    /// The stack resource the configuration belongs to; `None` in markers written before
    /// owners were recorded, and when the RequestId leaves no room for it.
    pub owner: Option<Owner>,
    /// A delivery of the request settled on this configuration.
    pub kept: bool,
}

/// Appended to the marker's value once a delivery has settled on the configuration.
const KEPT_SUFFIX: &str = "@kept";

/// IVS's limit on a tag value, in characters.
const MAX_TAG_VALUE: usize = 256;

impl Marker {
    /// A marker for a configuration about to be created now.
    pub fn now(request_id: &str) -> Marker {
        let created_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Marker {
            request_id: request_id.to_string(),
            created_ms,
            owner: None,
            kept: false,
        }
    }

    /// The same marker naming `owner`, if the tag value has room for it: CloudFormation's
    /// RequestIds (UUIDs) always leave room; only a hand-written one over 136 characters does
    /// not, and its configuration is then found by its RequestId alone.
    pub fn owned_by(self, owner: Owner) -> Marker {
        let with_owner = Marker {
            owner: Some(owner),
            ..self.clone()
        };
        if with_owner.kept().to_tag_value().chars().count() <= MAX_TAG_VALUE {
            with_owner
        } else {
            self
        }
    }

    /// The same marker, marked kept.
    pub fn kept(&self) -> Marker {
        Marker {
            kept: true,
            ..self.clone()
        }
    }

    /// The tag value: `<RequestId>@<milliseconds>`, then `@<owner>` when known, then `@kept`
    /// once settled on.
    pub fn to_tag_value(&self) -> String {
        let owner = self
            .owner
            .as_ref()
            .map(|o| format!("@{}", o.0))
            .unwrap_or_default();
        let kept = if self.kept { KEPT_SUFFIX } else { "" };
        format!("{}@{}{owner}{kept}", self.request_id, self.created_ms)
    }

    /// Reads a tag value; a bare RequestId (no time) reads as created at 0, and a marker
    /// written before owners were recorded reads with none.
    pub fn parse(value: &str) -> Option<Marker> {
        let (value, kept) = match value.strip_suffix(KEPT_SUFFIX) {
            Some(rest) => (rest, true),
            None => (value, false),
        };
        if value.is_empty() {
            return None;
        }
        // An owner holds a `/`, which neither the time nor an older marker's last part has.
        let (value, owner) = match value.rsplit_once('@') {
            Some((rest, owner)) if owner.contains('/') && timed(rest).is_some() => {
                (rest, Some(Owner(owner.to_string())))
            }
            _ => (value, None),
        };
        Some(match timed(value) {
            Some((id, created_ms)) => Marker {
                request_id: id.to_string(),
                created_ms,
                owner,
                kept,
            },
            None => Marker {
                request_id: value.to_string(),
                created_ms: 0,
                owner,
                kept,
            },
        })
    }
}

/// `<RequestId>@<milliseconds>`, split.
fn timed(value: &str) -> Option<(&str, u64)> {
    value
        .rsplit_once('@')
        .and_then(|(id, ms)| Some((id, ms.parse().ok()?)))
        .filter(|(id, _)| !id.is_empty())
}

/// The stack resource a configuration belongs to: `<stack>/<LogicalResourceId>`, where
/// `<stack>` is the unique part of the StackId (its last path segment), so that the
/// configurations of one logical resource are found with one List even when CloudFormation has
/// no PhysicalResourceId of ours to give (a create it cancelled).
///
/// Characters a tag value may not hold, and owners over [`Owner::MAX`] characters, are replaced
/// by a readable prefix and a hash of the whole, so that the owner still fits beside a UUID
/// RequestId and two different resources never share one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner(String);

impl Owner {
    /// The longest owner written into a marker.
    pub const MAX: usize = 100;

    /// The owner of the resource a request is about.
    pub fn of(identity: &Identity) -> Owner {
        let stack = identity
            .stack_id
            .rsplit('/')
            .next()
            .unwrap_or(&identity.stack_id);
        let raw = format!("{stack}/{}", identity.logical_resource_id);
        let plain = |part: &str| -> String {
            part.chars()
                .map(|c| match c {
                    'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' | ':' | '=' | '+' => c,
                    _ => '_',
                })
                .collect()
        };
        let readable = format!("{}/{}", plain(stack), plain(&identity.logical_resource_id));
        if readable == raw && readable.len() <= Owner::MAX {
            return Owner(readable);
        }
        let hash = format!("+{:016x}", fnv1a(raw.as_bytes()));
        let keep = Owner::MAX - hash.len();
        // `readable` is ASCII, so any byte index is a character boundary.
        Owner(format!("{}{hash}", &readable[..readable.len().min(keep)]))
    }

    /// The owner as the marker writes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 64-bit FNV-1a: stable across Rust versions and platforms, unlike std's hashers, because an
/// owner written by one build of the function is looked up by the next.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Where the function runs: configurations elsewhere are never its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Home {
    /// e.g. `aws`.
    pub partition: String,
    /// e.g. `us-east-1`.
    pub region: String,
    /// The 12-digit account id.
    pub account: String,
}

impl Home {
    /// From the invoked function's ARN, `arn:aws:lambda:us-east-1:123456789012:function:name`
    /// (with or without a version or alias).
    pub fn from_function_arn(arn: &str) -> Option<Home> {
        let parts: Vec<&str> = arn.splitn(7, ':').collect();
        match parts[..] {
            ["arn", partition, "lambda", region, account, "function", ..]
                if !partition.is_empty() && !region.is_empty() && !account.is_empty() =>
            {
                Some(Home {
                    partition: partition.to_string(),
                    region: region.to_string(),
                    account: account.to_string(),
                })
            }
            _ => None,
        }
    }

    /// How `arn` (a recording-configuration ARN) lies outside this home, if it does.
    pub fn mismatch(&self, arn: &str) -> Option<Mismatch> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [_, partition, _, region, account, _] = parts[..] else {
            return None;
        };
        let differs = |what: &'static str, theirs: &str, ours: &str| {
            (theirs != ours).then(|| Mismatch {
                what,
                theirs: theirs.to_string(),
                ours: ours.to_string(),
            })
        };
        differs("partition", partition, &self.partition)
            .or_else(|| differs("account", account, &self.account))
            .or_else(|| differs("region", region, &self.region))
    }
}

/// A configuration ARN in another partition, account or region than the function's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// `partition`, `account` or `region`.
    pub what: &'static str,
    /// The ARN's.
    pub theirs: String,
    /// The function's.
    pub ours: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "its {} is {}, this function's is {}",
            self.what, self.theirs, self.ours
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_bare_request_ids_read_as_oldest() {
        let m = Marker {
            request_id: "7d3e-uuid".into(),
            created_ms: 1_764_150_000_123,
            owner: None,
            kept: false,
        };
        assert_eq!(m.to_tag_value(), "7d3e-uuid@1764150000123");
        assert_eq!(Marker::parse(&m.to_tag_value()), Some(m.clone()));
        assert_eq!(m.kept().to_tag_value(), "7d3e-uuid@1764150000123@kept");
        assert_eq!(Marker::parse(&m.kept().to_tag_value()), Some(m.kept()));
        assert_eq!(
            Marker::parse("a@b@12"),
            Some(Marker {
                request_id: "a@b".into(),
                created_ms: 12,
                owner: None,
                kept: false,
            })
        );
        for bare in ["req-1", "req@notanumber", "@12", "a/b", "x@y/z"] {
            assert_eq!(
                Marker::parse(bare),
                Some(Marker {
                    request_id: bare.into(),
                    created_ms: 0,
                    owner: None,
                    kept: false,
                }),
                "{bare}"
            );
        }
        assert_eq!(Marker::parse(""), None);
        assert!(Marker::now("r").created_ms > 1_700_000_000_000);
    }

    fn identity(stack_id: &str, logical: &str, request_id: &str) -> Identity {
        Identity {
            stack_id: stack_id.into(),
            request_id: request_id.into(),
            logical_resource_id: logical.into(),
        }
    }

    const STACK: &str =
        "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/5b0a1f30-cf6e-11f0-8de9-0242ac120002";
    const UUID: &str = "8c2f0e6a-7b1d-4e2a-9f3c-1d2e3f4a5b6c";

    #[test]
    fn markers_name_their_owner_and_round_trip() {
        let owner = Owner::of(&identity(STACK, "Recording", UUID));
        assert_eq!(
            owner.as_str(),
            "5b0a1f30-cf6e-11f0-8de9-0242ac120002/Recording"
        );
        let m = Marker::now(UUID).owned_by(owner.clone());
        assert_eq!(m.owner.as_ref(), Some(&owner));
        let value = m.kept().to_tag_value();
        assert!(value.ends_with("@5b0a1f30-cf6e-11f0-8de9-0242ac120002/Recording@kept"));
        assert_eq!(Marker::parse(&value), Some(m.kept()));
        assert_eq!(Marker::parse(&m.to_tag_value()), Some(m.clone()));
        // A RequestId holding `@` and `/` still reads back.
        let odd = Marker::now("a@b/c").owned_by(owner.clone());
        assert_eq!(Marker::parse(&odd.to_tag_value()), Some(odd));
        // Older markers: no owner.
        assert_eq!(Marker::parse("r@12").unwrap().owner, None);
    }

    #[test]
    fn long_or_unusual_owners_are_shortened_with_a_hash_and_stay_distinct() {
        let long = "L".repeat(255);
        let a = Owner::of(&identity(STACK, &long, UUID));
        let b = Owner::of(&identity(STACK, &format!("{}M", &long[1..]), UUID));
        assert_eq!(a.as_str().len(), Owner::MAX);
        assert!(a
            .as_str()
            .starts_with("5b0a1f30-cf6e-11f0-8de9-0242ac120002/LLL"));
        assert_ne!(a, b);
        // Characters a tag value may not hold, and `@` (the marker's separator), are replaced,
        // and the hash keeps apart owners that differ only there.
        let at = Owner::of(&identity("my@stack", "R", UUID));
        let underscore = Owner::of(&identity("my_stack", "R", UUID));
        assert!(!at.as_str().contains('@'));
        assert_ne!(at, underscore);
        assert_eq!(underscore.as_str(), "my_stack/R");
        // Stable across builds: the value a deployed function wrote must be found again.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        // The marker of a UUID RequestId with the longest owner fits IVS's tag value limit.
        let m = Marker::now(UUID).owned_by(a.clone()).kept();
        assert_eq!(m.owner, Some(a.clone()));
        assert!(m.to_tag_value().chars().count() <= MAX_TAG_VALUE);
        // A RequestId too long to leave room keeps its marker without the owner.
        let m = Marker::now(&"r".repeat(200)).owned_by(a);
        assert_eq!(m.owner, None);
    }

    #[test]
    fn home_comes_from_the_function_arn_and_names_the_first_mismatch() {
        let home = Home::from_function_arn("arn:aws:lambda:us-east-1:123456789012:function:f:live")
            .unwrap();
        assert_eq!(home.region, "us-east-1");
        assert_eq!(home.account, "123456789012");
        let own = "arn:aws:ivs:us-east-1:123456789012:recording-configuration/abc";
        assert_eq!(home.mismatch(own), None);
        let other_account = "arn:aws:ivs:us-east-1:999999999999:recording-configuration/abc";
        let m = home.mismatch(other_account).unwrap();
        assert_eq!(m.what, "account");
        assert_eq!(
            m.to_string(),
            "its account is 999999999999, this function's is 123456789012"
        );
        let other_region = "arn:aws:ivs:eu-west-1:123456789012:recording-configuration/abc";
        assert_eq!(home.mismatch(other_region).unwrap().what, "region");
        let other_partition = "arn:aws-cn:ivs:us-east-1:123456789012:recording-configuration/a";
        assert_eq!(home.mismatch(other_partition).unwrap().what, "partition");
        assert_eq!(Home::from_function_arn("not-an-arn"), None);
        assert_eq!(
            Home::from_function_arn("arn:aws:s3:::bucket/function:x"),
            None
        );
    }
}
