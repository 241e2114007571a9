//! `kindling-testserver`: the workloads end-to-end tests need and Debian's static busybox cannot
//! be (its `nc` has no UDP mode, it has no gRPC at all). Shipped only in the offline test image
//! `kindling/testserver` (kindling-image's `testimage`), never in the product binary.
//!
//! - `grpc [--port P] [--serving NAME]...`: a grpc.health.v1 server (tonic-health, HTTP/2
//!   cleartext) on P (default 9000) answering SERVING for the server as a whole ("") and for each
//!   NAME, `SERVICE_UNKNOWN`/NotFound for any other name. Two pods serving different names tell
//!   a caller which one a call reached.
//! - `udp-echo [--port P]`: sends every datagram back to its sender unchanged (default 9000).

use std::net::{Ipv4Addr, SocketAddr};

use tonic_health::ServingStatus;

const USAGE: &str =
    "usage: kindling-testserver grpc [--port P] [--serving NAME]... | udp-echo [--port P]";

#[derive(Debug, PartialEq, Eq)]
enum Mode {
    Grpc { port: u16, serving: Vec<String> },
    UdpEcho { port: u16 },
}

/// Reads the command line (without the program name). No IO, so the table below checks it.
fn parse(args: &[String]) -> Result<Mode, String> {
    let (mode, rest) = args.split_first().ok_or(USAGE)?;
    let mut port = 9000;
    let mut serving = Vec::new();
    let mut rest = rest.iter();
    while let Some(flag) = rest.next() {
        let value = rest
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--port" => {
                port = value
                    .parse()
                    .map_err(|_| format!("invalid port {value:?}\n{USAGE}"))?;
            }
            "--serving" if mode == "grpc" => serving.push(value.clone()),
            _ => return Err(format!("unknown flag {flag:?}\n{USAGE}")),
        }
    }
    match mode.as_str() {
        "grpc" => Ok(Mode::Grpc { port, serving }),
        "udp-echo" => Ok(Mode::UdpEcho { port }),
        _ => Err(USAGE.to_string()),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match parse(&args) {
        Ok(Mode::Grpc { port, serving }) => grpc(port, serving).await,
        Ok(Mode::UdpEcho { port }) => udp_echo(port).await,
        Err(usage) => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("kindling-testserver: {e}");
        std::process::exit(1);
    }
}

async fn grpc(port: u16, serving: Vec<String>) -> Result<(), Box<dyn std::error::Error>> {
    let (reporter, service) = tonic_health::server::health_reporter();
    for name in &serving {
        reporter
            .set_service_status(name, ServingStatus::Serving)
            .await;
    }
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    println!("grpc.health.v1 on {addr}, serving {serving:?}");
    tonic::transport::Server::builder()
        .add_service(service)
        .serve(addr)
        .await?;
    Ok(())
}

async fn udp_echo(port: u16) -> Result<(), Box<dyn std::error::Error>> {
    let socket = tokio::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).await?;
    println!("udp echo on {}", socket.local_addr()?);
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, from) = socket.recv_from(&mut buf).await?;
        // a failed reply (the sender went away) must not stop the server
        let _ = socket.send_to(&buf[..n], from).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn command_lines() {
        let table: &[(&str, Result<Mode, ()>)] = &[
            (
                "grpc",
                Ok(Mode::Grpc {
                    port: 9000,
                    serving: vec![],
                }),
            ),
            (
                "grpc --port 50051 --serving alpha --serving beta",
                Ok(Mode::Grpc {
                    port: 50051,
                    serving: vec!["alpha".into(), "beta".into()],
                }),
            ),
            ("udp-echo", Ok(Mode::UdpEcho { port: 9000 })),
            ("udp-echo --port 53", Ok(Mode::UdpEcho { port: 53 })),
            ("udp-echo --serving alpha", Err(())),
            ("grpc --port", Err(())),
            ("grpc --port 70000", Err(())),
            ("http", Err(())),
            ("", Err(())),
        ];
        for (line, want) in table {
            assert_eq!(&parse(&args(line)).map_err(|_| ()), want, "{line:?}");
        }
    }
}
