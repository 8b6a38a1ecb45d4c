//! The AWS clients the function builds once per process, configured from its environment.

use crate::cloudformation::SdkCloudFormation;
use crate::https::Https;
use crate::ivs::SdkIvs;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::SdkConfig;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

/// The IVS and CloudFormation clients, from the SDK's configuration chain (Lambda's
/// environment: region, the role's credentials, endpoint variables of local runs). The chain's
/// own calls, where a credential source needs any, go through the same HTTPS stack.
pub async fn from_env() -> (SdkIvs, SdkCloudFormation) {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(Https);
    // Lambda hands the role's credentials over in the environment, the first source of the
    // SDK's default chain, which would take them from there too. Named alone, the chain's other
    // sources (profile files, web identity, ECS, instance metadata) are not built: a quarter
    // of a millisecond at every start.
    if credentials_in_environment(|name| std::env::var(name).ok()) {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    let sdk = empty_endpoints_unset(&loader.load().await);
    (SdkIvs::new(&sdk), SdkCloudFormation::new(&sdk))
}

/// Whether the SDK's environment credentials provider finds credentials in the environment
/// (`var` reads a variable): an access key id, and a secret key under either of its names,
/// neither blank.
fn credentials_in_environment(var: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| var(name).is_some_and(|value| !value.trim().is_empty());
    set("AWS_ACCESS_KEY_ID") && (set("AWS_SECRET_ACCESS_KEY") || set("SECRET_ACCESS_KEY"))
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
    fn every_client_asks_for_the_one_connector_the_answer_uses() {
        let sdk = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let shared = crate::https::settings();
        for timeouts in [
            SdkIvs::new(&sdk).timeout_config(),
            SdkCloudFormation::new(&sdk).timeout_config(),
        ] {
            let timeouts = timeouts.expect("a timeout config");
            assert_eq!(timeouts.connect_timeout(), shared.connect_timeout());
            assert_eq!(timeouts.read_timeout(), shared.read_timeout());
        }
    }

    #[test]
    fn credentials_are_taken_from_the_environment_where_the_sdk_would_find_them_there() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(var, _)| *var == name)
                    .map(|(_, value)| value.to_string())
            }
        };
        assert!(credentials_in_environment(env(&[
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ])));
        assert!(credentials_in_environment(env(&[
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("SECRET_ACCESS_KEY", "secret"),
        ])));
        assert!(!credentials_in_environment(env(&[])), "a profile, say");
        assert!(!credentials_in_environment(env(&[(
            "AWS_ACCESS_KEY_ID",
            "AKIAEXAMPLE"
        )])));
        assert!(!credentials_in_environment(env(&[
            ("AWS_ACCESS_KEY_ID", " "),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ])));
        assert!(!credentials_in_environment(env(&[
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", ""),
        ])));
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
