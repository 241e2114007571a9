//! Builds the images for real and runs containers from them, with the flags a node gets on a host
//! without `--privileged` (DESIGN.md). Skips, saying so, only when no Docker daemon answers.
//! Everything created here is removed again, also when a step fails.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigCgroupnsModeEnum};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder, WaitContainerOptions,
};
use bollard::Docker;
use futures::StreamExt;
use kindling_image::{NodeImageOptions, TestImage, PAUSE_ARCHIVE, PAUSE_IMAGE};

async fn docker_or_skip(test: &str) -> Option<Docker> {
    match kindling_image::connect().await {
        Ok(docker) => Some(docker),
        Err(e) => {
            println!("skipping {test}: no Docker daemon answers ({e:#})");
            None
        }
    }
}

/// What the node's PID 1 does at boot, plus a nested container from the imported pause image.
const NODE_SCRIPT: &str = r#"
containerd >/tmp/containerd.log 2>&1 &
for _ in $(seq 150); do ctr version >/dev/null 2>&1 && break; sleep 0.1; done
echo "== plugins"; ctr plugins ls
echo "== import"; ctr -n k8s.io images import "$PAUSE_ARCHIVE" || exit 1
echo "== images"; ctr -n k8s.io images ls -q
echo "== run"; ctr -n k8s.io run --rm "$PAUSE_IMAGE" pause-check /pause -v
echo "== kindling"; ls -l /usr/local/bin/kindling
"#;

#[tokio::test]
async fn node_image_imports_pause_and_starts_cri() {
    let Some(docker) = docker_or_skip("node image check").await else {
        return;
    };
    let image = format!("kindling/node:test-{}", std::process::id());
    let container = format!("kindling-image-test-node-{}", std::process::id());
    let progress = |line: &str| eprintln!("{line}");
    let opts = NodeImageOptions {
        image: image.clone(),
        // any bookworm-compatible binary will do: the entrypoint is overridden below
        kindling_binary: std::env::current_exe().unwrap(),
        progress: &progress,
        ..Default::default()
    };
    let outcome = async {
        kindling_image::build_node_image(&opts).await?;
        let env = vec![
            format!("PAUSE_ARCHIVE={PAUSE_ARCHIVE}"),
            format!("PAUSE_IMAGE={PAUSE_IMAGE}"),
        ];
        run(&docker, &container, &image, NODE_SCRIPT, env, true).await
    }
    .await;
    remove_container(&docker, &container).await;
    remove_image(&docker, &image).await;

    let (code, log) = outcome.expect("building and running the node image");
    println!("{log}");
    assert_eq!(code, 0, "the check script failed");
    let cri = log
        .lines()
        .find(|l| l.starts_with("io.containerd.grpc.v1") && l.contains(" cri "));
    assert!(
        cri.is_some_and(|l| l.trim_end().ends_with("ok")),
        "CRI plugin not ok: {cri:?}"
    );
    let images = log.split("== images").nth(1).unwrap_or_default();
    assert!(
        images.lines().any(|l| l.trim() == PAUSE_IMAGE),
        "pause image not listed"
    );
    assert!(
        log.contains(&format!("kindling pause {}", env!("CARGO_PKG_VERSION"))),
        "pause did not run"
    );
}

#[tokio::test]
async fn http_echo_stand_in_answers_any_path_with_its_text() {
    let Some(docker) = docker_or_skip("test image check").await else {
        return;
    };
    let image = format!("kindling-test/http-echo:test-{}", std::process::id());
    let container = format!("kindling-image-test-echo-{}", std::process::id());
    let script = r#"/http-echo -text="foo bar" & for _ in 1 2 3 4 5 6 7 8 9 10; do
        wget -qO- http://127.0.0.1:5678/foo/any && exit 0; sleep 0.2; done; exit 1"#;
    let outcome = async {
        let id = kindling_image::build_test_image_as(&image, TestImage::HttpEcho).await?;
        let again = kindling_image::build_test_image_as(&image, TestImage::HttpEcho).await?;
        if id != again {
            bail!("rebuilding from the same inputs made a new image ({id} then {again})");
        }
        run(&docker, &container, &image, script, Vec::new(), false).await
    }
    .await;
    remove_container(&docker, &container).await;
    remove_image(&docker, &image).await;

    let (code, log) = outcome.expect("building and running the http-echo image");
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("foo bar"), "{log}");
}

/// Runs `script` with `/bin/sh -c` in a new container and returns its exit code and output.
async fn run(
    docker: &Docker,
    name: &str,
    image: &str,
    script: &str,
    env: Vec<String>,
    node_flags: bool,
) -> Result<(i64, String)> {
    let mut host = HostConfig::default();
    let mut volumes = None;
    if node_flags {
        host = HostConfig {
            cap_add: Some(vec!["ALL".into()]),
            cap_drop: Some(vec!["SYS_RESOURCE".into()]),
            security_opt: Some(vec![
                "seccomp=unconfined".into(),
                "apparmor=unconfined".into(),
            ]),
            // `--security-opt systempaths=unconfined` is docker CLI sugar: the Engine API refuses
            // it, and wants empty masked/read-only path lists instead (writable /proc/sys)
            masked_paths: Some(Vec::new()),
            readonly_paths: Some(Vec::new()),
            binds: Some(vec!["/sys/fs/cgroup:/sys/fs/cgroup:rw".into()]),
            cgroupns_mode: Some(HostConfigCgroupnsModeEnum::HOST),
            tmpfs: Some(HashMap::from([
                ("/run".into(), String::new()),
                ("/tmp".into(), String::new()),
            ])),
            ..Default::default()
        };
        // containerd's overlayfs snapshots cannot live on the container's own overlay
        volumes = Some(vec!["/var".to_string()]);
    }
    let body = ContainerCreateBody {
        image: Some(image.to_string()),
        entrypoint: Some(vec!["/bin/sh".into(), "-c".into(), script.into()]),
        env: Some(env),
        volumes,
        host_config: Some(host),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::new().name(name).build();
    docker
        .create_container(Some(options), body)
        .await
        .context("creating the container")?;
    docker
        .start_container(
            name,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await?;

    let wait = async {
        let mut waits = docker.wait_container(name, None::<WaitContainerOptions>);
        match waits.next().await {
            Some(Ok(status)) => Ok(status.status_code),
            // bollard reports a non-zero exit as an error carrying the code
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(anyhow::Error::from(e)),
            None => bail!("wait ended without a status"),
        }
    };
    let code = tokio::time::timeout(Duration::from_secs(120), wait)
        .await
        .context("the container did not finish within 120 s")??;

    let mut log = String::new();
    let mut logs = docker.logs(
        name,
        Some(LogsOptionsBuilder::new().stdout(true).stderr(true).build()),
    );
    while let Some(chunk) = logs.next().await {
        log.push_str(&chunk?.to_string());
    }
    Ok((code, log))
}

async fn remove_container(docker: &Docker, name: &str) {
    // `v` removes the anonymous /var volume with it
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    let _ = docker.remove_container(name, Some(options)).await;
}

async fn remove_image(docker: &Docker, name: &str) {
    let options = RemoveImageOptionsBuilder::new().force(true).build();
    let _ = docker.remove_image(name, Some(options), None).await;
}
