//! A function's bootstrap started as Lambda starts it, and what /proc says about it.

use anyhow::Context;
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Where distributions keep their one file of trusted CA certificates (Amazon Linux and
/// Fedora, Debian and Ubuntu).
/// The environment Lambda gives a `provided.al2023` function, with dummy credentials, plus
/// the function's own variables.
pub fn lambda_environment(
    function: &str,
    runtime_api: &str,
    own: &[(String, String)],
) -> Vec<(String, String)> {
    let mut environment: Vec<(String, String)> = [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api),
        ("AWS_LAMBDA_FUNCTION_NAME", function),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/24/[$LATEST]bench"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_SESSION_TOKEN", "local"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
        ("LANG", "en_US.UTF-8"),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin"),
        ("TZ", ":UTC"),
        ("_HANDLER", "bootstrap"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect();
    environment.push((
        "AWS_LAMBDA_LOG_GROUP_NAME".to_owned(),
        format!("/aws/lambda/{function}"),
    ));
    // As template.yaml: no SSL_CERT_FILE, so the AWS clients trust their compiled-in roots.
    // `BENCH_FUNCTION_ENV=SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt` measures the
    // system bundle instead.
    environment.extend(own.iter().cloned());
    environment
}

/// Starts `binary` with exactly `environment`, its output appended to `log`.
pub fn launch(
    binary: &Path,
    environment: &[(String, String)],
    log: &File,
) -> anyhow::Result<Child> {
    Command::new(binary)
        .env_clear()
        .envs(environment.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log.try_clone()?)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))
}

/// Stops a function process (Lambda freezes or kills it; nothing runs after the last event).
pub fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The most memory the process has held resident (`VmHWM`), in KiB.
pub fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc status")
}

/// User plus system CPU time of the process so far, in clock ticks.
pub fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after_name = stat.rsplit_once(')').context("a malformed /proc stat")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks = |index: usize| -> anyhow::Result<u64> {
        Ok(fields.get(index).context("a short /proc stat")?.parse()?)
    };
    Ok(ticks(11)? + ticks(12)?)
}

/// Milliseconds per clock tick (`getconf CLK_TCK`, usually 100 per second).
pub fn milliseconds_per_tick() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .map_or(10.0, |per_second| 1000.0 / per_second)
}

/// Size of a file in bytes, if it exists.
pub fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|metadata| metadata.len())
}
