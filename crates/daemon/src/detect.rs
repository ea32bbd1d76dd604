//! What the daemon finds of the agent itself: installed (its executable on PATH, or its state
//! directory holding its config file), running (a process of its gateway), and its version
//! (asked of the executable once per executable file, else read from what the agent wrote).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use agent_proto::{AgentFacts, Product};
use render::Layout;

/// How long `<agent> --version` may take (OpenClaw starts Node, Hermes Python).
const VERSION_TIMEOUT: Duration = Duration::from_secs(30);

/// Looks at the host; remembers the version of the executable it last asked.
pub struct Probe {
    layout: Layout,
    path_var: Option<String>,
    asked: Option<(PathBuf, Option<SystemTime>, Option<String>)>,
}

impl Probe {
    pub fn new(layout: Layout, path_var: Option<String>) -> Probe {
        Probe {
            layout,
            path_var,
            asked: None,
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    fn executable(&self) -> Option<PathBuf> {
        let path_var = self.path_var.as_deref()?;
        std::env::split_paths(path_var)
            .map(|dir| dir.join(self.layout.executable))
            .find(|candidate| is_executable(candidate))
    }

    /// The facts as of now; `config_text` is the agent's config file as just read.
    pub async fn facts(&mut self, config_text: Option<&str>) -> AgentFacts {
        let executable = self.executable();
        let installed = executable.is_some()
            || (self.layout.state_dir.is_dir() && self.layout.config.is_file());
        let version = match &executable {
            Some(exe) => self.version_of(exe).await,
            None => None,
        }
        .or_else(|| config_text.and_then(written_version));
        AgentFacts {
            product: self.layout.product,
            installed,
            running: installed && gateway_running(self.layout.executable),
            version,
        }
    }

    async fn version_of(&mut self, exe: &Path) -> Option<String> {
        let modified = std::fs::metadata(exe).and_then(|m| m.modified()).ok();
        if let Some((path, at, version)) = &self.asked
            && path == exe
            && *at == modified
        {
            return version.clone();
        }
        let argument = match self.layout.product {
            Product::OpenClaw => "--version",
            Product::Hermes => "version",
        };
        let mut command = tokio::process::Command::new(exe);
        command.arg(argument).kill_on_drop(true);
        if let Some(path) = &self.path_var {
            command.env("PATH", path);
        }
        let version = match tokio::time::timeout(VERSION_TIMEOUT, command.output()).await {
            Ok(Ok(output)) if output.status.success() => {
                first_version(&String::from_utf8_lossy(&output.stdout))
            }
            _ => None,
        };
        self.asked = Some((exe.to_path_buf(), modified, version.clone()));
        version
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// The first `N.N.N`-like token of a text (`OpenClaw 2026.9.6`, `Hermes Agent v0.19.0 (…)`).
pub fn first_version(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
        .map(|token| token.trim_start_matches('v'))
        .find(|token| {
            let parts: Vec<&str> = token.split('.').collect();
            parts.len() >= 2
                && parts
                    .first()
                    .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                && parts.iter().skip(1).all(|p| {
                    !p.is_empty()
                        && p.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'+')
                })
        })
        .map(str::to_string)
}

/// OpenClaw records the version that last wrote its config in `meta.lastTouchedVersion`.
fn written_version(config: &str) -> Option<String> {
    let at = config.find("lastTouchedVersion")?;
    let rest = &config[at + "lastTouchedVersion".len()..];
    let start = rest.find(['"', '\''])? + 1;
    let rest = rest.get(start..)?;
    let end = rest.find(['"', '\''])?;
    first_version(rest.get(..end)?)
}

/// Whether a process of the agent's gateway runs: a command line naming the executable (or a
/// script of that name) and `gateway` (`openclaw gateway`, `hermes gateway run`, OpenClaw's
/// `openclaw-gateway`).
/// The process table, read at most once a second per executable for all daemons of the process
/// (a simulated fleet runs thousands).
fn gateway_running(executable: &'static str) -> bool {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Instant;
    static SEEN: Mutex<Option<HashMap<&'static str, (Instant, bool)>>> = Mutex::new(None);
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let seen = seen.get_or_insert_with(HashMap::new);
    if let Some((at, running)) = seen.get(executable)
        && at.elapsed() < Duration::from_secs(1)
    {
        return *running;
    }
    let running = scan_processes(executable);
    seen.insert(executable, (Instant::now(), running));
    running
}

#[cfg(target_os = "linux")]
fn scan_processes(executable: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            return false;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let names_agent = args.iter().take(3).any(|a| {
            let base = a.rsplit('/').next().unwrap_or(a);
            base == executable || base == format!("{executable}-gateway")
        });
        names_agent
            && args
                .iter()
                .any(|a| a == "gateway" || a.ends_with("-gateway"))
    })
}

#[cfg(not(target_os = "linux"))]
fn scan_processes(_executable: &str) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_what_the_agents_print_and_write() {
        assert_eq!(first_version("2026.9.6\n").as_deref(), Some("2026.9.6"));
        assert_eq!(
            first_version("OpenClaw 2026.4.1-beta.1 (abc)").as_deref(),
            Some("2026.4.1-beta.1")
        );
        assert_eq!(
            first_version("Hermes Agent v0.19.0 (2026.11.1)").as_deref(),
            Some("0.19.0")
        );
        assert_eq!(first_version("no version here"), None);
        assert_eq!(
            written_version("{meta: {lastTouchedVersion: \"2026.9.6\"}}").as_deref(),
            Some("2026.9.6")
        );
        assert_eq!(written_version("{}"), None);
    }
}
