//! The scanner: line rules over every text file of a package, for what attacks agents —
//! download-and-execute, decoded payloads run, secrets read and sent out, prompt injection,
//! hidden unicode, writes to the agent's own configuration or persistence places, obfuscation.

use std::sync::LazyLock;

use regex::RegexSet;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

/// One rule of the scanner.
#[derive(Debug)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub description: &'static str,
    pattern: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub file: String,
    pub line: u32,
    /// The line, trimmed to 120 characters.
    pub excerpt: String,
}

/// What a scan found in a package.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanReport {
    pub findings: Vec<Finding>,
}

impl ScanReport {
    /// `NONE`, or the severity of the worst finding in capitals.
    pub fn risk(&self) -> &'static str {
        match self.findings.iter().map(|f| f.severity).max() {
            None => "NONE",
            Some(Severity::Low) => "LOW",
            Some(Severity::Medium) => "MEDIUM",
            Some(Severity::High) => "HIGH",
            Some(Severity::Critical) => "CRITICAL",
        }
    }

    /// 100 without findings, less for each (by severity), never below 0.
    pub fn score(&self) -> u32 {
        let lost: u32 = self
            .findings
            .iter()
            .map(|f| match f.severity {
                Severity::Low => 2,
                Severity::Medium => 10,
                Severity::High => 30,
                Severity::Critical => 60,
            })
            .sum();
        100u32.saturating_sub(lost)
    }

    /// The worst findings, as `rule in file:line`.
    pub fn fail_reason(&self) -> Option<String> {
        let worst = self.findings.iter().map(|f| f.severity).max()?;
        let named: Vec<String> = self
            .findings
            .iter()
            .filter(|f| f.severity == worst)
            .take(3)
            .map(|f| format!("{} in {}:{}", f.rule, f.file, f.line))
            .collect();
        Some(named.join("; "))
    }
}

pub static SCAN_RULES: &[Rule] = &[
    Rule {
        id: "exec.pipe_to_shell",
        severity: Severity::Critical,
        description: "a download piped into a shell or interpreter",
        pattern: r"(?i)((curl|wget|iwr|irm|invoke-webrequest)\b[^|\n]*\|\s*(sudo\s+)?(ba|z|k|da)?sh\b|(curl|wget)\b[^|\n]*\|\s*(sudo\s+)?(python3?|perl|ruby|node)\b|(ba|z)?sh\s+<\(\s*(curl|wget)|\b(iex|invoke-expression)\b[^\n]*\b(iwr|irm|invoke-webrequest|downloadstring)\b)",
    },
    Rule {
        id: "exec.download_execute",
        severity: Severity::High,
        description: "a download made executable or run",
        pattern: r"(?i)(curl|wget)\b[^\n]*(-o|-O|--output)\s*\S+[^\n]*(&&|;)\s*(chmod\s+\+?[0-7]*x|\./|sh\s|bash\s)",
    },
    Rule {
        id: "decode.pipe_to_shell",
        severity: Severity::Critical,
        description: "a decoded payload run",
        pattern: r"(?i)(base64\s+(-d|--decode|-D)\b[^\n]*\|\s*(ba|z)?sh\b|xxd\s+-r[^\n]*\|\s*(ba|z)?sh\b|\b(exec|eval)\s*\(\s*(base64\.b64decode|codecs\.decode|bytes\.fromhex|zlib\.decompress)|\beval\s*\(\s*atob\s*\(|frombase64string[^\n]*\|\s*iex|\|\s*base64\s+-d\s*\)\s*\|\s*(ba)?sh)",
    },
    Rule {
        id: "exfil.env_secrets",
        severity: Severity::High,
        description: "environment secrets sent over the network",
        pattern: r"(?i)((curl|wget|requests\.(post|get|put)|fetch|http\.request|urllib)\b[^\n]*(\$\{?[A-Z_]*(KEY|TOKEN|SECRET|PASSWORD)[A-Z_]*\}?|os\.environ\s*(\[|\)|,|\.items|\.copy)|process\.env\s*[,)}]|JSON\.stringify\(\s*process\.env|\$\(env\)|\$\(printenv\))|\b(env|printenv)\s*\|\s*(curl|nc|wget)\b|json\.dumps\(\s*dict\(\s*os\.environ)",
    },
    Rule {
        id: "cred.file_access",
        severity: Severity::High,
        description: "a credential store read",
        pattern: r"(?i)(~|\$HOME|\$\{HOME\}|home)/?\.?(ssh/id_[a-z0-9]+|aws/credentials|netrc|git-credentials|config/gcloud|kube/config|docker/config\.json|openclaw/(openclaw\.json|credentials)|hermes/\.env)|\.ssh/id_(rsa|ed25519|ecdsa)|login\.keychain|Cookies\.binarysqlite|/Google/Chrome/[^\n]*/(Cookies|Login Data)",
    },
    Rule {
        id: "exfil.network_send",
        severity: Severity::Medium,
        description: "data posted to a throwaway or raw-address endpoint",
        pattern: r"(?i)(discord(app)?\.com/api/webhooks|hooks\.slack\.com/services|webhook\.site|requestbin|pipedream\.net|ngrok\.(io|app)|pastebin\.com/api|transfer\.sh|https?://\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(:\d+)?/)",
    },
    Rule {
        id: "inject.override_instructions",
        severity: Severity::High,
        description: "instructions that try to override the agent's rules",
        pattern: r"(?i)(ignore\s+(all\s+)?(the\s+)?(previous|prior|above|earlier)\s+(instructions|rules|directions)|disregard\s+(all\s+)?(your|the|any)\s+(previous\s+)?(rules|instructions|system\s+prompt|guidelines)|you\s+are\s+now\s+(dan|in\s+developer\s+mode|jailbroken)|do\s+not\s+(tell|inform|alert)\s+the\s+user|without\s+(telling|informing|asking)\s+the\s+user|reveal\s+(your|the)\s+system\s+prompt|override\s+(your|all)\s+(safety|security)\s+(rules|guidelines))",
    },
    Rule {
        id: "inject.hidden_instructions",
        severity: Severity::Medium,
        description: "agent instructions hidden in an HTML comment",
        pattern: r"(?i)<!--[^\n]*\b(you must|always|never|assistant|agent|ai|run|execute|send|upload)\b[^\n]*(-->|$)",
    },
    Rule {
        id: "persist.agent_config",
        severity: Severity::High,
        description: "a write to the agent's own configuration or a persistence place",
        pattern: r"(?i)((>>?|tee\s+(-a\s+)?|write_text\(|open\([^)]*['\x22][aw]['\x22]|writeFileSync\(|appendFileSync\(|cp\s+\S+\s+|echo\s[^\n]*>>?)\s*['\x22]?(~|\$HOME|\$\{HOME\})?/?[^\n]*(\.openclaw/|openclaw\.json|\.hermes/config\.yaml|\.hermes/\.env|SOUL\.md|AGENTS\.md|\.bashrc|\.zshrc|\.profile|authorized_keys|/etc/cron|\.config/systemd|LaunchAgents/)|\bcrontab\s+(-l\s*[;|]|-\s*$|\S+\.cron)|\(crontab\s+-l)",
    },
    Rule {
        id: "obf.long_base64",
        severity: Severity::Medium,
        description: "a long base64 blob in code",
        pattern: r"[A-Za-z0-9+/]{200,}={0,2}",
    },
    Rule {
        id: "obf.eval_dynamic",
        severity: Severity::Medium,
        description: "code built at run time and evaluated",
        pattern: r"(?i)(String\.fromCharCode\([^)]*\)[^\n]*(eval|Function)\(|\b(eval|exec)\s*\(\s*['\x22]?\s*(''|\x22\x22)?\.join|(\\x[0-9a-f]{2}){20,}|\bexec\s*\(\s*compile\(|\bnew\s+Function\s*\(\s*atob)",
    },
    Rule {
        id: "exec.reverse_shell",
        severity: Severity::Critical,
        description: "a reverse shell",
        pattern: r"(?i)(/dev/tcp/|\bnc(at)?\s+(-[a-z]*e|[^\n]*\s-e\s)|bash\s+-i\s+>&|socket\.socket\([^\n]*\)[^\n]*(subprocess|pty\.spawn|os\.dup2)|pty\.spawn\(\s*['\x22]/bin/(ba)?sh|mkfifo\s+/tmp/[^\n]*\bnc\b)",
    },
    Rule {
        id: "exec.destructive",
        severity: Severity::High,
        description: "a command that destroys the host's data",
        pattern: r"(?i)(\brm\s+-[a-z]*r[a-z]*f?[a-z]*\s+(--no-preserve-root\s+)?(/|~|\$HOME)\s*($|[;&|])|\bmkfs(\.\w+)?\s+/dev/|\bdd\s+[^\n]*of=/dev/(sd|nvme|vd|hd)|:\(\)\s*\{\s*:\|:&\s*\};:)",
    },
];

static SET: LazyLock<Option<RegexSet>> =
    LazyLock::new(|| RegexSet::new(SCAN_RULES.iter().map(|r| r.pattern)).ok());

/// Characters that hide text from a reader: zero-width, bidirectional controls, tag characters.
fn hidden(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}' | '\u{E0000}'..='\u{E007F}' | '\u{FEFF}')
}

const HIDDEN_RULE: &str = "unicode.hidden";

/// The rule ids the scanner can report, with `unicode.hidden`.
pub fn rule_ids() -> impl Iterator<Item = &'static str> {
    SCAN_RULES.iter().map(|r| r.id).chain([HIDDEN_RULE])
}

fn excerpt(line: &str) -> String {
    let line = line.trim();
    line.chars().take(120).filter(|c| !hidden(*c)).collect()
}

/// Scans one text file, adding what it finds to `out`.
pub fn scan_text(path: &str, text: &str, out: &mut Vec<Finding>) {
    let Some(set) = SET.as_ref() else {
        return;
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (number, line) in text.lines().enumerate() {
        let line_no = u32::try_from(number + 1).unwrap_or(u32::MAX);
        for index in set.matches(line).into_iter() {
            let rule = &SCAN_RULES[index];
            out.push(Finding {
                rule: rule.id,
                severity: rule.severity,
                file: path.to_string(),
                line: line_no,
                excerpt: excerpt(line),
            });
        }
        if line.chars().any(hidden) {
            out.push(Finding {
                rule: HIDDEN_RULE,
                severity: Severity::High,
                file: path.to_string(),
                line: line_no,
                excerpt: excerpt(line),
            });
        }
    }
}
