//! `cfn-ivs-local serve`: the emulator and a ResponseURL capture as a long-lived server, for a
//! function that runs elsewhere — `sam local invoke` in Docker, `cargo lambda watch` — and
//! reaches IVS through `AWS_ENDPOINT_URL_IVS` and CloudFormation through
//! `AWS_ENDPOINT_URL_CLOUDFORMATION` (the same emulator). It prints that environment first, as
//! `NAME=value` lines a shell or `docker --env-file` can take, then every captured answer.

use super::capture;
use super::EmulatorArgs;
use clap::Args;
use ivs_emulator::{ACCESS_KEY_ID, SECRET_ACCESS_KEY};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// Where the IVS emulator listens; a function in Docker needs 0.0.0.0 (or the bridge's
    /// address) to reach it.
    #[arg(long, value_name = "ADDRESS:PORT", default_value = "127.0.0.1:9100")]
    listen: SocketAddr,
    /// Where the ResponseURL capture listens [default: the next port on the --listen address,
    /// or a free one when --listen's port is 0]
    #[arg(long, value_name = "ADDRESS:PORT")]
    capture_listen: Option<SocketAddr>,
    /// The host name the function and its events use to reach both servers, e.g.
    /// host.docker.internal for `sam local invoke` [default: the --listen address, or the
    /// loopback address when that is 0.0.0.0]
    #[arg(long, value_name = "HOST")]
    host_address: Option<String>,
    // Last, because its help heading carries on to the arguments after it.
    #[command(flatten)]
    emulator: EmulatorArgs,
}

pub(super) async fn serve(args: ServeArgs) -> Result<(), String> {
    let emulator = args.emulator.start(Some(args.listen)).await?;
    let capture_at = args
        .capture_listen
        .unwrap_or_else(|| next_port(args.listen));
    let capture = capture::start(capture_at)
        .await
        .map_err(|e| format!("cannot listen on {capture_at} for answers: {e}"))?;
    let capture_port = capture.addr().port();
    let host = args
        .host_address
        .unwrap_or_else(|| reachable_host(args.listen.ip()));
    let endpoint = format!("http://{host}:{}", emulator.local_addr().port());
    // The function must not ask the real CloudFormation from a local run: the emulator answers
    // DescribeStackResource on the same port. It knows no stacks here, since it does not see
    // the events, so it answers that the event's stack does not exist.
    let environment = [
        ("AWS_ENDPOINT_URL_IVS", endpoint.clone()),
        ("AWS_ENDPOINT_URL_CLOUDFORMATION", endpoint),
        ("AWS_REGION", args.emulator.region.clone()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
        (
            "RESPONSE_URL_BASE",
            format!("http://{host}:{capture_port}/"),
        ),
    ];
    for (name, value) in environment {
        println!("{name}={value}");
    }
    eprintln!(
        "cfn-ivs-local: serving IVS and capturing answers (a PUT to any path under \
         RESPONSE_URL_BASE) until stopped"
    );
    // Both servers serve for as long as they stay in scope: until the process ends.
    std::future::pending::<()>().await;
    drop((emulator, capture));
    Ok(())
}

/// The capture's default address: the port after the emulator's, so `--listen` alone fixes
/// both; port 0 (any free port) stays 0, and so does the port after the last one.
fn next_port(listen: SocketAddr) -> SocketAddr {
    let port = match listen.port() {
        0 => 0,
        port => port.checked_add(1).unwrap_or(0),
    };
    SocketAddr::new(listen.ip(), port)
}

/// The host to print for an address the servers listen on: an unspecified address (all
/// interfaces) is no address to connect to, so the loopback one stands in for it.
fn reachable_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => Ipv4Addr::LOCALHOST.to_string(),
        IpAddr::V6(v6) if v6.is_unspecified() => format!("[{}]", Ipv6Addr::LOCALHOST),
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_capture_defaults_to_the_next_port() {
        let at = |text: &str| next_port(text.parse().unwrap()).to_string();
        assert_eq!(at("127.0.0.1:9100"), "127.0.0.1:9101");
        assert_eq!(at("0.0.0.0:0"), "0.0.0.0:0");
        assert_eq!(at("127.0.0.1:65535"), "127.0.0.1:0");
    }

    #[test]
    fn listening_everywhere_is_reached_through_loopback() {
        let host = |text: &str| reachable_host(text.parse().unwrap());
        assert_eq!(host("0.0.0.0"), "127.0.0.1");
        assert_eq!(host("::"), "[::1]");
        assert_eq!(host("192.168.1.20"), "192.168.1.20");
        assert_eq!(host("fe80::1"), "[fe80::1]");
    }
}
