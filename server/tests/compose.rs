//! `compose.yaml` checked against the rest of the repository, since no Docker engine runs here:
//! its profiles and services, the ports it publishes, that every variable it sets on an
//! `atlantic` service is documented and every one it interpolates is in `.env.example`, that
//! the files it mounts exist, and that every health check runs a program its image has (the
//! Dockerfile's own `HEALTHCHECK` included).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_norway::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// compose.yaml with its `<<` merge keys applied (the `x-atlantic` and `x-secrets` anchors).
fn compose() -> Value {
    let mut value: Value = serde_norway::from_str(&read("compose.yaml")).expect("compose.yaml");
    value.apply_merge().expect("merge keys");
    value
}

fn services(compose: &Value) -> BTreeMap<String, Value> {
    compose["services"]
        .as_mapping()
        .expect("services")
        .iter()
        .map(|(name, service)| (name.as_str().expect("name").to_owned(), service.clone()))
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| {
            items
                .iter()
                .map(|v| v.as_str().expect("a string").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The services `atlantic` runs in: those built from this repository's Dockerfile.
fn is_atlantic(service: &Value) -> bool {
    service.get("build").is_some()
}

/// The profiles and which service belongs to which (none: PostgreSQL, in every profile).
#[test]
fn the_profiles_hold_their_services() {
    let compose = compose();
    let mut profiles: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, service) in services(&compose) {
        let list = strings(&service["profiles"]);
        let key = match list.as_slice() {
            [] => "(none)".to_owned(),
            [one] => one.clone(),
            more => panic!("{name} is in several profiles: {more:?}"),
        };
        profiles.entry(key).or_default().insert(name);
    }
    let expected: BTreeMap<String, BTreeSet<String>> = [
        ("(none)", &["postgres"][..]),
        ("single", &["atlantic"]),
        ("cluster", &["redis", "web", "gateway-a", "gateway-b"]),
        (
            "monitoring",
            &[
                "prometheus",
                "alertmanager",
                "grafana",
                "loki",
                "promtail",
                "node-exporter",
            ],
        ),
    ]
    .into_iter()
    .map(|(profile, names)| {
        (
            profile.to_owned(),
            names.iter().map(|n| n.to_string()).collect(),
        )
    })
    .collect();
    assert_eq!(profiles, expected);
}

/// Published ports: the documented ones, the proxy ports alone on every interface, the rest on
/// loopback, and no host port twice in the stacks that run together (either profile with
/// monitoring).
#[test]
fn published_ports_are_the_documented_ones() {
    let compose = compose();
    let services = services(&compose);
    let published: BTreeMap<&str, Vec<String>> = services
        .iter()
        .map(|(name, service)| (name.as_str(), strings(&service["ports"])))
        .filter(|(_, ports)| !ports.is_empty())
        .collect();
    let expected: BTreeMap<&str, Vec<String>> = [
        (
            "atlantic",
            &["127.0.0.1:3000:3000", "8080:8080", "1080:1080"][..],
        ),
        ("web", &["127.0.0.1:3000:3000"]),
        (
            "gateway-a",
            &["8080:8080", "1080:1080", "127.0.0.1:3101:3000"],
        ),
        (
            "gateway-b",
            &["8081:8080", "1081:1080", "127.0.0.1:3102:3000"],
        ),
        ("prometheus", &["127.0.0.1:9090:9090"]),
        ("alertmanager", &["127.0.0.1:9093:9093"]),
        ("grafana", &["127.0.0.1:3001:3000"]),
    ]
    .into_iter()
    .map(|(name, ports)| (name, ports.iter().map(|p| p.to_string()).collect()))
    .collect();
    assert_eq!(published, expected);

    let deployment = read("docs/deployment.md");
    for (name, ports) in &published {
        for port in ports {
            let parts: Vec<&str> = port.split(':').collect();
            let (host, container) = match parts.as_slice() {
                [ip, host, container] => {
                    assert_eq!(*ip, "127.0.0.1", "{name}: {port}");
                    let address = format!("127.0.0.1:{host}");
                    assert!(
                        deployment.contains(&address),
                        "{name}: {address} is not in docs/deployment.md"
                    );
                    (*host, *container)
                }
                [host, container] => {
                    assert!(
                        ["8080", "1080"].contains(container),
                        "{name}: only the proxy ports face the network, not {port}"
                    );
                    (*host, *container)
                }
                _ => panic!("{name}: {port} is not [ip:]host:container"),
            };
            assert!(!container.is_empty());
            let documented = deployment.contains(host);
            assert!(
                documented,
                "{name}: host port {host} is not in docs/deployment.md"
            );
        }
    }

    for stack in ["single", "cluster"] {
        let mut seen = BTreeMap::new();
        for (name, service) in &services {
            let profiles = strings(&service["profiles"]);
            let runs =
                profiles.is_empty() || profiles.iter().any(|p| p == stack || p == "monitoring");
            if !runs {
                continue;
            }
            for port in strings(&service["ports"]) {
                let host = port.rsplit_once(':').map(|(host, _)| host.to_owned());
                let host = host.expect("host part");
                let bare = host.rsplit(':').next().unwrap_or(&host).to_owned();
                if let Some(other) = seen.insert(bare.clone(), name.clone()) {
                    panic!(
                        "{stack} + monitoring: host port {bare} is published by {other} and {name}"
                    );
                }
            }
        }
    }
}

/// The variables names written as `NAME` in a Markdown file.
fn documented_variables(markdown: &str) -> BTreeSet<String> {
    markdown
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_variable_set_on_an_atlantic_service_is_documented() {
    let documented = documented_variables(&read("docs/configuration.md"));
    assert!(documented.contains("ATLANTIC_LISTEN"), "the parser works");
    let compose = compose();
    let mut checked = 0;
    for (name, service) in services(&compose) {
        if !is_atlantic(&service) {
            continue;
        }
        let environment = service["environment"]
            .as_mapping()
            .unwrap_or_else(|| panic!("{name}: environment as a mapping"));
        for variable in environment.keys() {
            let variable = variable.as_str().expect("a name");
            assert!(
                documented.contains(variable),
                "{name} sets {variable}, which docs/configuration.md does not document"
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} variables found");
}

/// `${NAME}`, `${NAME:-default}`, `${NAME:?message}` … in compose.yaml's text.
fn interpolated(text: &str) -> BTreeSet<String> {
    text.split("${")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .collect()
}

#[test]
fn every_interpolated_variable_is_in_env_example() {
    let example = read(".env.example");
    let listed: BTreeSet<String> = example
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(name, _)| name.trim().to_owned()))
        .collect();
    let wanted = interpolated(&read("compose.yaml"));
    assert!(wanted.contains("POSTGRES_PASSWORD"), "the parser works");
    let missing: Vec<&String> = wanted.difference(&listed).collect();
    assert!(missing.is_empty(), ".env.example lacks {missing:?}");
    let stale: Vec<&String> = listed.difference(&wanted).collect();
    assert!(
        stale.is_empty(),
        ".env.example lists {stale:?}, which compose.yaml never reads"
    );
}

/// Every `./…` bind mount names a file or folder of the repository (a folder when the target
/// ends in `/`); the secret files live under an ignored `secrets/`.
#[test]
fn every_mounted_repository_file_exists_and_secrets_stay_out_of_git() {
    let compose = compose();
    let mut mounts = 0;
    for (name, service) in services(&compose) {
        for volume in strings(&service["volumes"]) {
            let mut parts = volume.split(':');
            let (source, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let Some(relative) = source.strip_prefix("./") else {
                continue;
            };
            let path = root().join(relative);
            if source.ends_with('/') || target.ends_with('/') {
                assert!(path.is_dir(), "{name}: {source} is not a folder");
                let entries = std::fs::read_dir(&path).expect("folder").count();
                assert!(entries > 0, "{name}: {source} is empty");
            } else {
                assert!(path.is_file(), "{name}: {source} is not a file");
            }
            assert!(target.starts_with('/'), "{name}: {volume}");
            mounts += 1;
        }
    }
    assert!(mounts >= 7, "only {mounts} repository mounts");

    let secrets = compose["secrets"].as_mapping().expect("secrets");
    let defined: BTreeSet<&str> = secrets.keys().filter_map(Value::as_str).collect();
    for (name, secret) in secrets {
        let file = secret["file"].as_str().expect("a file secret");
        assert!(
            file.starts_with("./secrets/"),
            "{name:?}: {file} outside secrets/"
        );
    }
    assert!(read(".gitignore").lines().any(|l| l.trim() == "/secrets/"));
    assert!(read(".dockerignore").lines().any(|l| l.trim() == "secrets"));
    for (name, service) in services(&compose) {
        for secret in strings(&service["secrets"]) {
            assert!(defined.contains(secret.as_str()), "{name}: {secret}");
        }
        // a NAME_FILE set on an atlantic service points at a secret it mounts
        if let Some(environment) = service["environment"].as_mapping() {
            for (variable, value) in environment {
                let (Some(variable), Some(value)) = (variable.as_str(), value.as_str()) else {
                    continue;
                };
                if let Some(secret) = value.strip_prefix("/run/secrets/") {
                    assert!(variable.ends_with("_FILE"), "{name}: {variable}");
                    assert!(
                        strings(&service["secrets"]).iter().any(|s| s == secret),
                        "{name}: {variable} reads the secret {secret} it does not mount"
                    );
                }
            }
        }
    }
}

/// A health check's program: the first word of its command.
fn health_program(test: &Value) -> Option<String> {
    let words = match test {
        Value::String(shell) => shell.split_whitespace().map(str::to_owned).collect(),
        other => strings(other),
    };
    match words.first().map(String::as_str) {
        Some("CMD") => words.get(1).cloned(),
        Some("CMD-SHELL") => words
            .get(1)
            .and_then(|shell| shell.split_whitespace().next().map(str::to_owned)),
        Some("NONE") | None => None,
        Some(other) => Some(other.to_owned()),
    }
}

/// The programs each image is known to have, by image name (the tag aside): the database
/// images' own clients, the busybox `wget` of the Prometheus project's images.
fn programs_of(image: &str) -> &'static [&'static str] {
    let name = image.split(':').next().unwrap_or(image);
    match name {
        "postgres" => &["pg_isready"],
        "redis" => &["redis-cli"],
        "prom/prometheus" | "prom/alertmanager" | "prom/node-exporter" => &["wget"],
        _ => &[],
    }
}

/// The exec-form `HEALTHCHECK … CMD [...]` of the Dockerfile.
fn dockerfile_healthcheck(dockerfile: &str) -> Vec<String> {
    let joined = dockerfile.replace("\\\n", " ");
    let line = joined
        .lines()
        .find(|l| l.trim_start().starts_with("HEALTHCHECK"))
        .expect("a HEALTHCHECK");
    let json = line
        .split_once(" CMD ")
        .map(|(_, cmd)| cmd.trim())
        .expect("HEALTHCHECK … CMD");
    serde_json::from_str(json).unwrap_or_else(|e| panic!("not exec form ({e}): {line}"))
}

#[test]
fn every_health_check_runs_a_program_its_image_has() {
    const ATLANTIC: [&str; 2] = ["/usr/local/bin/atlantic", "healthcheck"];
    let dockerfile = read("Dockerfile");
    assert_eq!(dockerfile_healthcheck(&dockerfile), ATLANTIC);
    assert!(
        dockerfile
            .contains("COPY --from=builder /src/target/release/atlantic /usr/local/bin/atlantic"),
        "the image has the binary where its health check runs it"
    );
    // the binary has the subcommand
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_atlantic"))
        .args(["healthcheck", "--help"])
        .output()
        .expect("atlantic");
    assert!(help.status.success(), "atlantic healthcheck --help");

    let compose = compose();
    let services = services(&compose);
    for (name, service) in &services {
        let test = &service["healthcheck"]["test"];
        if test.is_null() {
            assert!(
                !is_atlantic(service),
                "{name}: an atlantic service without a health check"
            );
            continue;
        }
        if is_atlantic(service) {
            assert_eq!(
                strings(test),
                ["CMD", ATLANTIC[0], ATLANTIC[1]],
                "{name}: the image's own check"
            );
            continue;
        }
        let image = service["image"].as_str().expect("an image");
        let program = health_program(test).unwrap_or_else(|| panic!("{name}: {test:?}"));
        assert!(
            programs_of(image).contains(&program.as_str()),
            "{name}: {image} is not known to have {program}"
        );
    }

    // what waits for a service's health has a health check to wait for
    for (name, service) in &services {
        if let Some(depends) = service["depends_on"].as_mapping() {
            for (other, condition) in depends {
                let other = other.as_str().expect("a service");
                if condition["condition"].as_str() == Some("service_healthy") {
                    assert!(
                        !services[other]["healthcheck"]["test"].is_null(),
                        "{name} waits for {other} to be healthy, which has no health check"
                    );
                }
            }
        }
    }
}
