//! What makes a recording configuration this resource's: the marker tag every configuration it
//! creates carries, and the account, region and partition the function itself runs in. Pure:
//! the decisions that use these are in [`crate::lifecycle`] and [`crate::create`].

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The one tag key the resource reserves: it records which CloudFormation request created a
/// configuration (so that a redelivered Create finds it instead of making a second one), and
/// the function's role may delete and retag only configurations that carry it.
pub const MARKER_TAG: &str = "cfn-ivs-recording:request-id";

/// The marker's value: the CloudFormation RequestId, when the configuration was created, and
/// whether a delivery of the request has settled on keeping it.
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
    /// A delivery of the request settled on this configuration.
    pub kept: bool,
}

/// Appended to the marker's value once a delivery has settled on the configuration.
const KEPT_SUFFIX: &str = "@kept";

impl Marker {
    /// A marker for a configuration about to be created now.
    pub fn now(request_id: &str) -> Marker {
        let created_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Marker {
            request_id: request_id.to_string(),
            created_ms,
            kept: false,
        }
    }

    /// The same marker, marked kept.
    pub fn kept(&self) -> Marker {
        Marker {
            kept: true,
            ..self.clone()
        }
    }

    /// The tag value: `<RequestId>@<milliseconds>`, then `@kept` once settled on.
    pub fn to_tag_value(&self) -> String {
        let kept = if self.kept { KEPT_SUFFIX } else { "" };
        format!("{}@{}{kept}", self.request_id, self.created_ms)
    }

    /// Reads a tag value; a bare RequestId (no time) reads as created at 0.
    pub fn parse(value: &str) -> Option<Marker> {
        let (value, kept) = match value.strip_suffix(KEPT_SUFFIX) {
            Some(rest) => (rest, true),
            None => (value, false),
        };
        if value.is_empty() {
            return None;
        }
        let parsed = value
            .rsplit_once('@')
            .and_then(|(id, ms)| Some((id, ms.parse().ok()?)))
            .filter(|(id, _)| !id.is_empty());
        Some(match parsed {
            Some((id, created_ms)) => Marker {
                request_id: id.to_string(),
                created_ms,
                kept,
            },
            None => Marker {
                request_id: value.to_string(),
                created_ms: 0,
                kept,
            },
        })
    }
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
                kept: false,
            })
        );
        for bare in ["req-1", "req@notanumber", "@12"] {
            assert_eq!(
                Marker::parse(bare),
                Some(Marker {
                    request_id: bare.into(),
                    created_ms: 0,
                    kept: false,
                }),
                "{bare}"
            );
        }
        assert_eq!(Marker::parse(""), None);
        assert!(Marker::now("r").created_ms > 1_700_000_000_000);
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
