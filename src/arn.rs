//! Recording-configuration ARNs: what is one, and the region it names.

/// `arn:<partition>:ivs:<region>:<account>:recording-configuration/<id>`, in any partition.
pub fn is_recording_configuration_arn(id: &str) -> bool {
    let parts: Vec<&str> = id.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    let Some(resource_id) = resource.strip_prefix("recording-configuration/") else {
        return false;
    };
    arn == "arn"
        && partition.starts_with("aws")
        && service == "ivs"
        && !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !account.is_empty()
        && account.chars().all(|c| c.is_ascii_digit())
        && !resource_id.is_empty()
        && resource_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The region named in a recording-configuration ARN.
pub fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:ivs:us-west-2:123456789012:recording-configuration/AbCdEf123456";

    #[test]
    fn recognises_recording_configuration_arns_only() {
        assert!(is_recording_configuration_arn(ARN));
        assert!(is_recording_configuration_arn(
            "arn:aws-cn:ivs:cn-north-1:123456789012:recording-configuration/x1"
        ));
        for id in [
            "",
            "arn:aws:ivs:us-west-2:123456789012:channel/AbCd",
            "arn:aws:ivs:us-west-2:123456789012:recording-configuration/",
            "arn:aws:s3:us-west-2:123456789012:recording-configuration/AbCd",
            "arn:aws:ivs:us-west-2:12345x:recording-configuration/AbCd",
            "demo-Recording-failed-create-req-1",
        ] {
            assert!(!is_recording_configuration_arn(id), "{id}");
        }
        assert_eq!(arn_region(ARN), Some("us-west-2"));
    }
}
