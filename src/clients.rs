//! The AWS clients the function builds once per process, configured from its environment.

use crate::cloudformation::SdkCloudFormation;
use crate::https::Https;
use crate::ivs::SdkIvs;
use aws_config::SdkConfig;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

/// The IVS and CloudFormation clients, from the SDK's configuration chain (Lambda's
/// environment: region, the role's credentials, endpoint variables of local runs). The chain's
/// own calls, where a credential source needs any, go through the same HTTPS stack.
pub async fn from_env() -> (SdkIvs, SdkCloudFormation) {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(Https)
        .load()
        .await;
    let sdk = empty_endpoints_unset(&sdk);
    (SdkIvs::new(&sdk), SdkCloudFormation::new(&sdk))
}

/// The template declares `AWS_ENDPOINT_URL_IVS` and `AWS_ENDPOINT_URL_CLOUDFORMATION` with
/// empty values, because `sam local invoke --env-vars` overrides only declared variables. The
/// SDK would take an empty value as the endpoint itself; here it means unset, so a deployed
/// function calls the SDK's own endpoints.
pub fn empty_endpoints_unset(sdk: &SdkConfig) -> SdkConfig {
    match sdk.service_config() {
        Some(_) => sdk
            .to_builder()
            .service_config(EmptyIsUnset(sdk.clone()))
            .build(),
        None => sdk.clone(),
    }
}

/// The SDK's per-service settings from the environment, with empty values left out.
#[derive(Debug)]
struct EmptyIsUnset(SdkConfig);

impl LoadServiceConfig for EmptyIsUnset {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        self.0
            .service_config()?
            .load_config(key)
            .filter(|value| !value.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Per-service settings as the SDK reads them from `AWS_ENDPOINT_URL_<SERVICE>`.
    #[derive(Debug)]
    struct Environment(&'static [(&'static str, &'static str)]);

    impl LoadServiceConfig for Environment {
        fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
            let var = format!("{}_{}", key.env(), key.service_id().to_uppercase());
            self.0
                .iter()
                .find(|(name, _)| *name == var)
                .map(|(_, value)| value.to_string())
        }
    }

    fn endpoint_of(vars: &'static [(&'static str, &'static str)], service: &str) -> Option<String> {
        let sdk = SdkConfig::builder()
            .service_config(Environment(vars))
            .build();
        let key = ServiceConfigKey::builder()
            .service_id(service)
            .env("AWS_ENDPOINT_URL")
            .profile("endpoint_url")
            .build()
            .unwrap();
        empty_endpoints_unset(&sdk)
            .service_config()
            .and_then(|c| c.load_config(key))
    }

    #[test]
    fn an_empty_endpoint_variable_is_unset_and_a_set_one_reaches_the_sdk() {
        const VARS: &[(&str, &str)] = &[
            ("AWS_ENDPOINT_URL_IVS", ""),
            ("AWS_ENDPOINT_URL_CLOUDFORMATION", "http://127.0.0.1:9100"),
        ];
        assert_eq!(endpoint_of(VARS, "ivs"), None);
        assert_eq!(
            endpoint_of(VARS, "cloudformation").as_deref(),
            Some("http://127.0.0.1:9100")
        );
    }
}
