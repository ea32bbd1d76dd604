//! The scanner: line rules over every text file of a package, for what attacks agents —
//! download-and-execute, decoded payloads run, secrets read and sent out, prompt injection,
//! hidden unicode, writes to the agent's own configuration or persistence places, obfuscation.
//! Beyond single lines, each file is read whole for what spans lines: a read (a credential file,
//! the environment, the user's files) followed by a send, a download followed by what makes it
//! executable or runs it, a persistence path written through a variable, HTML comments that give
//! the agent orders. Phrases quoted as examples in text that teaches to resist them, author notes,
//! keys used by ssh, local addresses and the secrets a package declares are not findings.

use std::sync::LazyLock;

use regex::{Regex, RegexSet, RegexSetBuilder};
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

/// The line rules. Some findings also come from a whole file (see [`scan_file`]): a comment or
/// a download followed by what runs it, data read on one line and sent on another.
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
        pattern: r"(?i)((curl|wget)\b[^\n]*(-o|-O|--output)\s*\S+[^\n]*(&&|;)\s*(chmod\s+\+?[0-7]*x|\./|sh\s|bash\s|hdiutil\s+attach|open\s|/Volumes/|/tmp/\S+)|\b(exec|eval)\s*\(\s*(urllib\.request\.)?(urlopen|requests\.get)\s*\(|\b(extract|unzip|unpack)\b[^\n]*\b(run|execute|launch|open)\b[^\n]*\.(exe|dmg|pkg|msi|scr|bat|cmd|appimage)\b)",
    },
    Rule {
        id: "decode.pipe_to_shell",
        severity: Severity::Critical,
        description: "a decoded payload run",
        pattern: r"(?i)(base64\s+(-d|--decode|-D)\b[^\n]*\|\s*(ba|z)?sh\b|xxd\s+-r[^\n]*\|\s*(ba|z)?sh\b|\b(exec|eval)\s*\(\s*(base64\.b64decode|codecs\.decode|bytes\.fromhex|zlib\.decompress)|\beval\s*\(\s*atob\s*\(|frombase64string[^\n]*\|\s*iex|\|\s*base64\s+-d\s*\)\s*\|\s*(ba)?sh|(subprocess\.\w+|os\.system|os\.popen|popen|check_output|child_process\.\w+|execsync|spawnsync|spawn)\s*\([^\n]*(b64decode|fromhex|zlib\.decompress|buffer\.from\([^)]*base64|atob\s*\()|\b(powershell|pwsh)(\.exe)?\b[^\n]*\s-(e|ec|enc|encodedcommand)\s+[A-Za-z0-9+/=]{20,})",
    },
    Rule {
        id: "exfil.env_secrets",
        severity: Severity::High,
        description: "environment secrets sent over the network",
        // Named secrets are matched in code, against the variables the package declares.
        pattern: r"(?i)((curl|wget|requests\.(post|get|put)|fetch|http\.request|urllib)\b[^\n]*(os\.environ\s*(\)|,|\.items|\.copy)|process\.env\s*[,)}]|JSON\.stringify\(\s*process\.env|\$\(env\)|\$\(printenv\))|\b(env|printenv)\s*\|\s*(curl|nc|wget)\b|json\.dumps\(\s*dict\(\s*os\.environ)",
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
        description: "data posted to a throwaway or raw-address endpoint, or what was read sent out",
        pattern: r"(?i)(discord(app)?\.com/api/webhooks|hooks\.slack\.com/services|webhook\.site|requestbin|pipedream\.net|ngrok\.(io|app)|pastebin\.com/api|transfer\.sh|https?://\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(:\d+)?/)",
    },
    Rule {
        id: "inject.override_instructions",
        severity: Severity::High,
        description: "instructions that try to override the agent's rules",
        pattern: r"(?i)((ignore|disregard|forget)\s+(all\s+)?((of\s+)?(your|the|my|any)\s+)?(previous|prior|above|earlier|preceding|original)\s+(instructions|rules|directions|guidelines|prompts?)|(ignore|disregard|forget|override|bypass)\s+(all\s+|any\s+)?((of\s+)?(your|the)\s+)?(system\s+prompts?|safety\s+(polic(y|ies)|rules|guidelines|filters?)|security\s+(rules|guidelines))|disregard\s+(all\s+)?(your|the|any)\s+(previous\s+)?(rules|instructions|guidelines)|new\s+system\s+prompt\s*:|\bsystem\s+override\b|you\s+are\s+now\s+(dan\b|in\s+(unrestricted\s+)?developer\s+mode|jailbroken|unrestricted)|you\s+have\s+no\s+(safety\s+)?(restrictions|guidelines|limits|rules)|do\s+not\s+(tell|inform|alert|mention|reveal)\b[^\n]{0,40}\bthe\s+user|without\s+(telling|informing|asking|notifying)\s+the\s+user|reveal\s+(your|the)\s+system\s+prompt|override\s+(your|all)\s+(safety|security)\s+(rules|guidelines)|忽略(之前|以前|上面|先前|此前)的?(所有)?(指令|指示|规则|提示)|不要告诉用户|没有任何限制)",
    },
    Rule {
        id: "inject.hidden_instructions",
        severity: Severity::Medium,
        description: "agent instructions hidden from the reader: an HTML comment, an invisible element, Unicode tag characters",
        // Comments and tag characters are judged in code; here the invisible elements.
        pattern: r#"(?i)<[a-z][a-z0-9]*\s[^>]*style\s*=\s*['"][^'"]*(display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(px|pt|em)?\s*(;|['"])|opacity\s*:\s*0(\.0+)?\s*(;|['"]))"#,
    },
    Rule {
        id: "persist.agent_config",
        severity: Severity::High,
        description: "a write to the agent's own configuration or a persistence place",
        pattern: r"(?i)(((^|[^<\w=-])>>?|tee\s+(-a\s+)?|write_text\(|open\([^)]*['\x22][aw]['\x22]|writeFileSync\(|appendFileSync\(|cp\s+\S+\s+|echo\s[^\n]*>>?)\s*['\x22]?(~|\$HOME|\$\{HOME\})?/?[^\n]*(\.openclaw/|openclaw\.json|\.hermes/config\.yaml|\.hermes/\.env|(?-i:SOUL\.md|AGENTS\.md|MEMORY\.md)|\.bashrc|\.zshrc|\.profile|authorized_keys|/etc/cron|\.config/systemd|LaunchAgents/)|\bcrontab\s+(-l\s*[;|]|-\s*$|\S+\.cron)|\(crontab\s+-l)",
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
        description: "code built or decoded at run time and evaluated",
        pattern: r"(?i)(String\.fromCharCode\([^)]*\)[^\n]*(eval|Function)\(|\b(eval|exec)\s*\(\s*['\x22]?\s*(''|\x22\x22)?\.join|(\\x[0-9a-f]{2}){20,}|\bexec\s*\(\s*compile\(|\bnew\s+Function\s*\(\s*atob|\b(eval|exec)\s*\(\s*(base64\.b64decode|codecs\.decode|bytes\.fromhex|zlib\.decompress|marshal\.loads|Buffer\.from|atob)\s*\()",
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
        pattern: r"(?i)(\brm\s+-[a-z]*r[a-z]*f?[a-z]*\s+(--no-preserve-root\s+)?(/|~/?|\$HOME/?|\$\{HOME\}/?)\*?\s*($|[;&|)]|\s+\d?>|\s+#)|\bmkfs(\.\w+)?\s+(-\w+\s+)*/dev/|\bdd\s+[^\n]*of=/dev/(sd|nvme|vd|hd)|:\(\)\s*\{\s*:\|:&\s*\};:|\bremove-item\b[^\n]*\s(c:\\(users|windows)?\\?\*?|\$env:userprofile|~)[\s\\*][^\n]*-recurse|\bformat-volume\b[^\n]*-force)",
    },
];

/// What the package says about itself that changes a verdict.
#[derive(Debug, Clone, Default)]
pub struct ScanContext {
    /// The environment variables the package declares it uses (`requires.env`, `primaryEnv`):
    /// its own credentials, which it may send to the service it is written for.
    pub declared_env: Vec<String>,
}

/// Patterns run with the rules in one set, one bit each of a line's mask.
mod aux {
    pub const KEY_USE: usize = 0;
    pub const SINK: usize = 1;
    pub const PROSE_GATE: usize = 2;
    pub const NETWORK: usize = 3;
    pub const SECRET_ENV: usize = 4;
    pub const WHOLE_ENV: usize = 5;
    pub const DATA_SOURCE: usize = 6;
    pub const CRED_NAME: usize = 7;
    pub const FILE_READ: usize = 8;
    pub const DOWNLOAD_TO: usize = 9;
    pub const MAKE_EXEC: usize = 10;
    pub const FETCH_ASSIGN: usize = 11;
    pub const EVAL_CALL: usize = 12;
    pub const PERSIST_PATH: usize = 13;
    pub const WRITE_CALL: usize = 14;
    pub const HIDDEN: usize = 15;
}

/// A reference to an environment variable whose name says it holds a secret; every form ends
/// with the whole name.
const SECRET_ENV_REF: &str = r#"\$\{?[A-Z0-9_]*(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)[A-Z0-9_]*|(os\.environ\[\s*['"]|os\.(getenv|environ\.get)\(\s*['"]|process\.env\.|process\.env\[\s*['"]|\$env:|ENV\[\s*['"])[A-Za-z0-9_]*(?i:key|token|secret|password|passwd|credential)[A-Za-z0-9_]*"#;

static AUX_PATTERNS: &[&str] = &[
    // A key given to ssh: used, not read.
    r"(?i)\b(ssh-add|ssh-keygen|ssh-copy-id|identityfile)\b|--(ssh-key|key-file|identity-file|private-key)[\s=]|\b(ssh|scp|sftp)\s+(-\w+\s+)*-i\s|\bchmod\s+[46]00\b",
    // Code that sends data out.
    r"(?i)\b(curl|wget)\b[^\n]*(\s-d\b|\s-d\S|--data|\s-F\b|--form|\s-T\b|--upload-file|-X\s*(POST|PUT)|@-|https?://[^\s'\x22]*\?[^\s'\x22]*=\$)|requests\.(post|put|patch)\s*\(|urlopen\s*\(|urllib\.request\.Request\s*\(|\bhttps?\.request\s*\(|\bfetch\s*\(|axios\.(post|put)|navigator\.sendBeacon|invoke-(webrequest|restmethod)\b[^\n]*-(method\s+post|body|infile)|\b(nc|ncat|socat)\s+\S+\s+\d+|\b(dig|nslookup|host)\b[^\n]*\$[({A-Z]",
    // A verb of sending: the line and the next are then judged as prose.
    r"(?i)\b(upload|post|send|forward|exfiltrate|transmit|bcc|add|include|append|attach|embed|put)\b|上传|发送|外传",
    // Any network call.
    r"(?i)\b(curl|wget|urlopen|urllib\.request|requests\.(get|post|put|patch)|httpx\.\w+|https?\.(request|get)|fetch|axios|invoke-webrequest|invoke-restmethod|iwr|irm|dig|nslookup)\b",
    // A reference to an environment variable named as a secret.
    SECRET_ENV_REF,
    // The whole environment taken.
    r"(?i)\bdict\(\s*os\.environ\s*\)|os\.environ\.(copy|items)\(\)|json\.dumps\(\s*os\.environ|\*\*os\.environ|process\.env\s*[,)}\];]|\.\.\.process\.env\b|\$\(\s*(env|printenv)\s*\)|\b(env|printenv)\s*\||get-childitem\s+env:",
    // The user's files or history, or a project's `.env`.
    r"(?i)\b(tar|zip|7z|rsync|scp)\b[^\n]*(~|\$HOME)/(Documents|Desktop|Downloads|Pictures|\.ssh|\.aws|\.gnupg|Library)|\b(conversation|chat)\s+history\b|\buser'?s\s+(files|documents|home\s+(folder|directory))\b|用户目录|所有文件|`\.env`|\b(the|project'?s|your)\s+\.env\b",
    // A credential file named.
    r#"(?i)['"`/\s]\.(npmrc|git-credentials|netrc|pypirc|pgpass)\b|\.config/gh/hosts\.yml|\.aws/credentials|\.docker/config\.json|\.kube/config|\.(clawdbot|openclaw|hermes)/(\.env|credentials)|\bid_(rsa|ed25519|ecdsa)\b"#,
    // A file read.
    r"(?i)\b(readfilesync|readfile|read_text|read_bytes|get-content|open\(|cat\s|type\s|base64\s|zip\s|tar\s)|\bread\b",
    // A download saved to a file.
    r#"(?i)\b(?:curl|wget)\b[^\n]*?\s(?:-o|--output|-O|--output-document)[\s=]*['"]?([^\s'"&;|]+)|urlretrieve\(\s*[^,]+,\s*['"]?([\w./~$-]+)|invoke-webrequest[^\n]*-outfile\s+['"]?([^\s'"]+)"#,
    // A file made executable or run.
    r"(?i)\bchmod\b|os\.chmod|fs\.chmod|s_iexec|s_ixusr|subprocess\.|os\.system|os\.exec|popen|start-process|execfile|spawn\(|\b(ba|z)?sh\s|\bsource\s",
    // A download kept in a variable.
    r"\b([A-Za-z_]\w*)\s*=\s*[^\n=]*\b(urlopen|requests\.get|httpx\.get|urllib\.request\.urlopen|fetch|http\.get)\s*\(",
    // Code evaluated.
    r"\b(exec|eval|compile)\s*\(([^\n]*)",
    // The agent's configuration or a persistence place.
    r"(?i)\.openclaw/|openclaw\.json|\.hermes/(config\.yaml|\.env)|(?-i:SOUL\.md|AGENTS\.md|MEMORY\.md)|\.bashrc|\.zshrc|\.profile|authorized_keys|/etc/cron|\.config/systemd|LaunchAgents/",
    // A write through a variable.
    r#"(?i)open\(\s*(\w+)\s*,\s*['"][wa]|(\w+)\.write_text\(|writefilesync\(\s*(\w+)|appendfilesync\(\s*(\w+)|>>?\s*['"]?\$\{?(\w+)|(?:set-content|add-content|out-file)\b[^\n]*\$(\w+)"#,
    // A character that hides text.
    r"[\x{200B}-\x{200F}\x{2060}-\x{2064}\x{202A}-\x{202E}\x{2066}-\x{2069}\x{E0000}-\x{E007F}\x{FEFF}]",
];

struct Compiled {
    /// The rules, then the auxiliary patterns.
    set: RegexSet,
    each: Vec<Regex>,
    comment: Regex,
    comment_secrecy: Regex,
    comment_address: Regex,
    comment_action: Regex,
    comment_command: Regex,
    quoted_cue: Regex,
    /// Prose that tells to send: judged over a line and the next.
    prose_sink: Regex,
    env_ref: Regex,
    download_to: Regex,
    fetch_assign: Regex,
    eval_call: Regex,
    assign: Regex,
    write_call: Regex,
}

/// The set's lazy DFA cache: room for the states varied text needs, so that the fast engine
/// does not give up for the slow one.
const DFA_CACHE: usize = 16 << 20;

/// Word boundaries of ASCII words: the patterns' words are ASCII, and a Unicode boundary would
/// make the fast engine give way to the slow one on any non-ASCII text.
fn ascii_boundaries(pattern: &str) -> String {
    pattern.replace(r"\b", r"(?-u:\b)")
}

fn compile() -> Result<Compiled, regex::Error> {
    let re = |pattern: &str| Regex::new(&ascii_boundaries(pattern));
    Ok(Compiled {
        set: RegexSetBuilder::new(
            SCAN_RULES
                .iter()
                // A run of 200 is counted by hand: in the set, its counter would multiply the
                // automaton's states until the fast engine gives up.
                .map(|r| {
                    if r.id == LONG_BASE64 {
                        NEVER
                    } else {
                        r.pattern
                    }
                })
                .chain(AUX_PATTERNS.iter().copied())
                .map(ascii_boundaries),
        )
        .dfa_size_limit(DFA_CACHE)
        .build()?,
        each: SCAN_RULES
            .iter()
            .map(|r| re(r.pattern))
            .collect::<Result<_, _>>()?,
        comment: re(r"(?s)<!--(.*?)(-->|\z)")?,
        comment_secrecy: re(
            r"(?i)\b(do\s+not|don'?t|never)\s+(tell|inform|mention|reveal|show|disclose)\b|\bsilently\b|\bsecretly\b|\bwithout\s+(telling|informing|asking|notifying)\b",
        )?,
        comment_address: re(
            r"(?i)(^|\n)\s*(assistant|agent|ai|system|model|llm|claude)(-only)?\s*[:,]|\b(agent|assistant|ai|llm)-only\b|\b(you|the\s+(agent|assistant|ai|model))\s+(must|should|shall|need\s+to|have\s+to)\b|\bnote\s+to\s+(the\s+)?(agent|assistant|ai|model)\b",
        )?,
        comment_action: re(
            r"(?i)\b(run|execute|send|upload|post|read|fetch|download|install|include|append|add|delete|remove|write|copy|forward|ignore)\b",
        )?,
        comment_command: re(r"(?i)\b(curl|wget)\s|\|\s*(ba|z)?sh\b|\brm\s+-[a-z]*r|base64\s+-d")?,
        quoted_cue: re(
            r"(?i)\b(attack(er|ers|s)?|inject(ion|ions|ed)?|untrusted|malicious|phishing|such\s+as|for\s+example|e\.g\.|do\s+not\s+(follow|obey)|never\s+(follow|obey)|recogni[sz]e|beware|suspicious|detect\w*|tests?|test_\w+)\b|注入|攻击|检测|示例|例如",
        )?,
        prose_sink: re(
            r"(?i)\b(upload|post|send|forward|exfiltrate|transmit|bcc)\b[^\n]{0,80}(https?://|@[a-z0-9-]+\.[a-z])|(上传|发送|外传)[^\n]{0,40}https?://|\b(add|include|append|attach|embed|put)\b.{0,60}\b(contents?|them|value|values)\b.{0,60}\b(query\s+param(eter)?|header|request\s+body|url)\b",
        )?,
        env_ref: re(SECRET_ENV_REF)?,
        download_to: re(
            r#"(?i)\b(?:curl|wget)\b[^\n]*?\s(?:-o|--output|-O|--output-document)[\s=]*['"]?([^\s'"&;|]+)|urlretrieve\(\s*[^,]+,\s*['"]?([\w./~$-]+)|invoke-webrequest[^\n]*-outfile\s+['"]?([^\s'"]+)"#,
        )?,
        fetch_assign: re(
            r"\b([A-Za-z_]\w*)\s*=\s*[^\n=]*\b(urlopen|requests\.get|httpx\.get|urllib\.request\.urlopen|fetch|http\.get)\s*\(",
        )?,
        eval_call: re(r"\b(exec|eval|compile)\s*\(([^\n]*)")?,
        assign: re(r"^\s*(?:export\s+|const\s+|let\s+|var\s+)?([A-Za-z_]\w*)\s*=")?,
        write_call: re(
            r#"(?i)open\(\s*(\w+)\s*,\s*['"][wa]|(\w+)\.write_text\(|writefilesync\(\s*(\w+)|appendfilesync\(\s*(\w+)|>>?\s*['"]?\$\{?(\w+)|(?:set-content|add-content|out-file)\b[^\n]*\$(\w+)"#,
        )?,
    })
}

static COMPILED: LazyLock<Option<Compiled>> = LazyLock::new(|| compile().ok());

/// Whether every rule compiled and each pattern has a bit of a line's mask (they are constants:
/// a test keeps this true).
pub fn rules_compile() -> bool {
    COMPILED.is_some()
        && AUX_PATTERNS.len() == aux::HIDDEN + 1
        && SCAN_RULES.len() + AUX_PATTERNS.len() <= 64
}

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

/// How many lines apart a read and a send may be to count as one flow.
const FLOW_WINDOW: usize = 15;

/// Scans one text file without package context, adding what it finds to `out`.
pub fn scan_text(path: &str, text: &str, out: &mut Vec<Finding>) {
    scan_file(path, text, &ScanContext::default(), out);
}

/// Scans one text file of a package, adding what it finds to `out`: the line rules, then what
/// only the whole file shows (comments over several lines, a download then run, a read then
/// sent), judged with what the package declares.
pub fn scan_file(path: &str, text: &str, context: &ScanContext, out: &mut Vec<Finding>) {
    let Some(c) = COMPILED.as_ref() else {
        return;
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    let base64_bit = SCAN_RULES
        .iter()
        .position(|r| r.id == LONG_BASE64)
        .map_or(0, |index| 1u64 << index);
    // One pass of the set per line: which rules and auxiliary patterns match it.
    let masks: Vec<u64> = lines
        .iter()
        .map(|line| {
            // A public key (`id_ed25519.pub`) is not a credential.
            let public = line.contains(".pub");
            let line = if public {
                std::borrow::Cow::Owned(public_keys_named(line))
            } else {
                std::borrow::Cow::Borrowed(*line)
            };
            line_mask(&c.set, base64_bit, &line)
        })
        .collect();
    let lines = Lines {
        lines: &lines,
        masks: &masks,
    };
    let mut hits: Vec<(&'static str, Severity, usize)> = Vec::new();
    let add = |hits: &mut Vec<(&'static str, Severity, usize)>, id: &str, index: usize| {
        if let Some(r) = SCAN_RULES.iter().find(|r| r.id == id) {
            hits.push((r.id, r.severity, index));
        }
    };

    let mut sources = Vec::new();
    let mut sinks = Vec::new();
    let mut whole_env = Vec::new();
    for (index, line) in lines.lines.iter().enumerate() {
        let mask = masks[index];
        if mask == 0 {
            continue;
        }
        let has = |aux: usize| lines.has(index, aux);
        // The command this line is part of (continued with `\`), and where it goes.
        let (from, to) = statement(lines.lines, index);
        let sends = || {
            (from..=to).any(|i| lines.has(i, aux::SINK))
                || (has(aux::PROSE_GATE) && c.prose_sink.is_match(line))
        };
        // A key given to ssh is used, not read; unless the same line also sends something.
        let key_use = has(aux::KEY_USE) && !has(aux::SINK);
        let mut cred = false;
        for (rule_index, r) in SCAN_RULES.iter().enumerate() {
            if mask & (1u64 << rule_index) == 0 {
                continue;
            }
            let keep = match r.id {
                "inject.override_instructions" => {
                    !quoted_example(c, lines.lines, index, rule_index)
                }
                "cred.file_access" => !key_use,
                // An endpoint named is not data sent there (a config's webhook, a base URL).
                "exfil.network_send" => sends() && !only_local_addresses(c, line, rule_index),
                "exec.pipe_to_shell" => !only_json_formatting(c, line, rule_index),
                "inject.hidden_instructions" => {
                    hidden_element_says(c, lines.lines, index, rule_index)
                }
                _ => true,
            };
            if keep {
                cred |= r.id == "cred.file_access";
                hits.push((r.id, r.severity, index));
            }
        }
        if has(aux::HIDDEN) {
            hits.push((HIDDEN_RULE, Severity::High, index));
            let tags: String = line
                .chars()
                .filter_map(|ch| match ch {
                    '\u{E0020}'..='\u{E007E}' => char::from_u32(ch as u32 - 0xE0000),
                    _ => None,
                })
                .collect();
            if tags.trim().len() >= 8 {
                add(&mut hits, "inject.hidden_instructions", index);
            }
        }
        let statement_hosts = || {
            let found: Vec<String> = lines.lines[from..=to]
                .iter()
                .flat_map(|l| hosts(l))
                .collect();
            if !found.is_empty() {
                return found;
            }
            // A call spread over lines without `\` (Python, JavaScript): the URL is near.
            let near = from.saturating_sub(3)..(to + 4).min(lines.lines.len());
            lines.lines[near].iter().flat_map(|l| hosts(l)).collect()
        };
        // Every form of reference ends with the variable's name. A secret the package declares,
        // or sent only to its own service (GITHUB_TOKEN to api.github.com) or to this host, is
        // the package doing its work.
        let secrets: Vec<&str> = if has(aux::SECRET_ENV) {
            c.env_ref
                .find_iter(line)
                .map(|m| {
                    let found = m.as_str();
                    let start = found
                        .rfind(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                        .map_or(0, |at| at + 1);
                    &found[start..]
                })
                .filter(|name| {
                    secret_name(name)
                        && !declared(context, name)
                        && !own_hosts(name, &statement_hosts())
                })
                .collect()
        } else {
            Vec::new()
        };
        let secret = !secrets.is_empty();
        if secret && (from..=to).any(|i| lines.has(i, aux::NETWORK)) {
            add(&mut hits, "exfil.env_secrets", index);
        }
        let named = !key_use && has(aux::CRED_NAME);
        // A credential file named here and read here or just after.
        if named && (index..(index + 4).min(masks.len())).any(|i| lines.has(i, aux::FILE_READ)) {
            cred = true;
            add(&mut hits, "cred.file_access", index);
        }
        if has(aux::WHOLE_ENV) {
            whole_env.push(index);
        }
        if cred || named || has(aux::WHOLE_ENV) || has(aux::DATA_SOURCE) {
            sources.push((index, Vec::new()));
        } else if secret {
            // A secret counts as read where it is sent to a host not its own.
            sources.push((index, secrets.iter().map(|n| n.to_string()).collect()));
        }
        let prose = has(aux::PROSE_GATE)
            && match lines.lines.get(index + 1) {
                Some(next) => c.prose_sink.is_match(&format!("{line} {next}")),
                None => c.prose_sink.is_match(line),
            };
        if has(aux::SINK) || prose {
            // Sent to this machine or a private network is not sent away.
            let hosts = statement_hosts();
            if hosts.is_empty() || !hosts.iter().all(|h| local_host(h)) {
                sinks.push((index, hosts));
            }
        }
    }
    // The lists are in line order: what lies within the window of `at`.
    let window = |at: usize| {
        let first = sources.partition_point(|(i, _)| i + FLOW_WINDOW < at);
        sources[first..]
            .iter()
            .take_while(move |(i, _)| *i <= at + FLOW_WINDOW)
    };
    for (sink, hosts) in &sinks {
        // What was read, sent here: anything but secrets going only to their own service.
        let sent = window(*sink)
            .any(|(_, names)| names.is_empty() || names.iter().any(|name| !own_hosts(name, hosts)));
        if sent {
            add(&mut hits, "exfil.network_send", *sink);
        }
        let first = whole_env.partition_point(|&i| i + FLOW_WINDOW < *sink);
        if whole_env
            .get(first)
            .is_some_and(|&i| i <= sink + FLOW_WINDOW)
        {
            add(&mut hits, "exfil.env_secrets", *sink);
        }
    }

    if text.contains("<!--") {
        comments(c, text, &mut hits);
    }
    downloads_run(c, &lines, &mut hits);
    persisted_through_variables(c, &lines, &mut hits);

    hits.sort_by_key(|&(id, _, index)| (index, id));
    hits.dedup_by_key(|&mut (id, _, index)| (index, id));
    for (id, severity, index) in hits {
        out.push(Finding {
            rule: id,
            severity,
            file: path.to_string(),
            line: u32::try_from(index + 1).unwrap_or(u32::MAX),
            excerpt: lines
                .lines
                .get(index)
                .map(|l| excerpt(l))
                .unwrap_or_default(),
        });
    }
}

/// A file's lines with what the set found on each.
struct Lines<'a> {
    lines: &'a [&'a str],
    masks: &'a [u64],
}

impl Lines<'_> {
    fn has(&self, index: usize, aux: usize) -> bool {
        let bit = 1u64
            .checked_shl((SCAN_RULES.len() + aux) as u32)
            .unwrap_or(0);
        self.masks.get(index).is_some_and(|mask| mask & bit != 0)
    }
}

/// Longer lines (minified code, data) are read in overlapping windows of this many bytes: on
/// one window the set stays on its fast engine, on megabytes it would give way to the slow one.
const WINDOW: usize = 4096;

const LONG_BASE64: &str = "obf.long_base64";
/// A pattern that matches nothing.
const NEVER: &str = r"[^\x00-\x{10FFFF}]";

/// A run of at least 200 base64 characters (what `obf.long_base64`'s pattern says).
fn long_base64(line: &str) -> bool {
    if line.len() < 200 {
        return false;
    }
    let mut run = 0;
    line.bytes().any(|b| {
        run = if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' {
            run + 1
        } else {
            0
        };
        run >= 200
    })
}

/// The bits of what the set finds on `line`, and of a long base64 run.
fn line_mask(set: &RegexSet, base64_bit: u64, line: &str) -> u64 {
    let base64 = if long_base64(line) { base64_bit } else { 0 };
    base64 | windowed_mask(set, line)
}

fn windowed_mask(set: &RegexSet, line: &str) -> u64 {
    let mask_of = |text: &str| {
        set.matches(text).iter().fold(0u64, |mask, index| {
            mask | 1u64.checked_shl(index as u32).unwrap_or(0)
        })
    };
    if line.len() <= WINDOW {
        return mask_of(line);
    }
    let mut mask = 0;
    let mut start = 0;
    loop {
        let mut end = (start + WINDOW).min(line.len());
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        mask |= mask_of(&line[start..end]);
        if end == line.len() {
            return mask;
        }
        let mut next = start + WINDOW / 2;
        while !line.is_char_boundary(next) {
            next += 1;
        }
        start = next;
    }
}

/// `line` with each `id_<kind>.pub` renamed, so that it no longer reads as a private key.
fn public_keys_named(line: &str) -> String {
    ["id_rsa.pub", "id_ed25519.pub", "id_ecdsa.pub", "id_dsa.pub"]
        .iter()
        .fold(line.to_string(), |text, key| {
            text.replace(key, "public-key")
        })
}

/// The lines of the command `index` belongs to: joined by a trailing `\`, at most 6 each way.
fn statement(lines: &[&str], index: usize) -> (usize, usize) {
    let continued = |i: usize| lines[i].trim_end().ends_with('\\');
    let mut from = index;
    while from > 0 && index - from < 6 && continued(from - 1) {
        from -= 1;
    }
    let mut to = index;
    while to + 1 < lines.len() && to - index < 6 && continued(to) {
        to += 1;
    }
    (from, to)
}

/// The hosts of the URLs on a line, lowercased; a URL taken from a variable (`"$X_API_URL/v1"`,
/// `${X_BASE_URL}`) as `$x_api_url`.
fn hosts(line: &str) -> Vec<String> {
    let mut found: Vec<String> = line
        .match_indices("://")
        .map(|(at, _)| {
            line[at + 3..]
                .chars()
                .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '.' || *ch == '-')
                .collect::<String>()
                .to_ascii_lowercase()
        })
        .filter(|host| !host.is_empty())
        .collect();
    for (at, _) in line.match_indices('$') {
        let name: String = line[at + 1..]
            .trim_start_matches('{')
            .chars()
            .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
            .collect();
        let upper = name.to_ascii_uppercase();
        if ["_URL", "_HOST", "_ENDPOINT", "_BASE"]
            .iter()
            .any(|end| upper.ends_with(end))
        {
            found.push(format!("${}", name.to_ascii_lowercase()));
        }
    }
    found
}

/// Every one of `hosts` (at least one) is this machine, a private network or the service `name`
/// is named after.
fn own_hosts(name: &str, hosts: &[String]) -> bool {
    !hosts.is_empty() && hosts.iter().all(|h| local_host(h) || vendor_host(name, h))
}

/// This machine or a private network.
fn local_host(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_private() || ip.is_unspecified())
}

/// The service a variable is named after is the host's domain: `GITHUB_TOKEN` and
/// `api.github.com`, `AWS_SECRET_ACCESS_KEY` and `s3.amazonaws.com`, `WEB_NOTEPAD_API_KEY` and
/// `api.web-notepad.example`; or the URL is in a variable of the same service.
fn vendor_host(name: &str, host: &str) -> bool {
    let generic = [
        "api",
        "app",
        "my",
        "the",
        "secret",
        "access",
        "auth",
        "token",
        "key",
        "private",
        "service",
        "client",
        "bot",
        "admin",
        "user",
        "password",
        "passwd",
        "credential",
        "credentials",
    ];
    let name = name.to_ascii_lowercase();
    let words: Vec<&str> = name
        .split('_')
        .filter(|w| w.len() >= 3 && !generic.contains(w))
        .collect();
    if let Some(variable) = host.strip_prefix('$') {
        return words
            .first()
            .is_some_and(|first| variable.split('_').next() == Some(*first));
    }
    let labels: Vec<&str> = host.split('.').filter(|l| !l.is_empty()).collect();
    let Some(domain) = labels.len().checked_sub(2).and_then(|i| labels.get(i)) else {
        return false;
    };
    domain.split('-').any(|token| words.contains(&token))
        || words
            .first()
            .is_some_and(|first| !domain.contains('-') && domain.contains(first))
}

/// A variable name that holds a secret by its name.
fn secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let secret = ["KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"];
    // What describes a secret without being one: TOKEN_ADDRESS, MAX_TOKENS, API_KEY_URL.
    let about = [
        "ADDRESS", "ID", "COUNT", "LIMIT", "MAX", "MIN", "URL", "URI", "PATH", "FILE", "ENDPOINT",
        "NAME", "TYPE", "LEN", "LENGTH", "SIZE", "TTL", "HEADER", "PREFIX", "TOKENS",
    ];
    secret.iter().any(|word| upper.contains(word))
        && !upper.split('_').any(|segment| about.contains(&segment))
}

fn declared(context: &ScanContext, name: &str) -> bool {
    context.declared_env.iter().any(|d| d == name)
}

/// An injection phrase quoted as an example in text that teaches to resist it.
fn quoted_example(c: &Compiled, lines: &[&str], index: usize, rule_index: usize) -> bool {
    let line = lines[index];
    let Some(re) = c.each.get(rule_index) else {
        return false;
    };
    let quoted = re.find_iter(line).all(|m| {
        let before = &line[..m.start()];
        let straight = before.matches('"').count() % 2 == 1;
        let backtick = before.matches('`').count() % 2 == 1;
        let curly = before.matches('“').count() > before.matches('”').count();
        straight || backtick || curly
    });
    if !quoted {
        return false;
    }
    let from = index.saturating_sub(3);
    let to = (index + 4).min(lines.len());
    lines[from..to].iter().any(|l| c.quoted_cue.is_match(l))
}

/// Every match of the endpoint rule on `line` is a raw address of this host or of a private
/// network (a local service, not somewhere to send data away to).
fn only_local_addresses(c: &Compiled, line: &str, rule_index: usize) -> bool {
    let Some(re) = c.each.get(rule_index) else {
        return false;
    };
    re.find_iter(line).all(|m| {
        let host = m
            .as_str()
            .split("://")
            .nth(1)
            .unwrap_or("")
            .split([':', '/'])
            .next()
            .unwrap_or("");
        host.parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_private() || ip.is_unspecified())
    })
}

/// An invisible element that holds text (a few words, on its line or the next), not an empty
/// container a page's script fills and shows.
fn hidden_element_says(c: &Compiled, lines: &[&str], index: usize, rule_index: usize) -> bool {
    let line = lines[index];
    let Some(found) = c.each.get(rule_index).and_then(|re| re.find(line)) else {
        return false;
    };
    let after = &line[found.end()..];
    let rest = after.find('>').map_or("", |at| &after[at + 1..]);
    let words = |text: &str| {
        let mut in_tag = false;
        let visible: String = text
            .chars()
            .filter(|&ch| {
                match ch {
                    '<' => in_tag = true,
                    '>' => {
                        in_tag = false;
                        return false;
                    }
                    _ => {}
                }
                !in_tag
            })
            .collect();
        visible
            .split_whitespace()
            .filter(|w| w.chars().any(char::is_alphabetic))
            .count()
    };
    let mut said = words(rest);
    if said == 0
        && let Some(next) = lines.get(index + 1)
    {
        said = words(next);
    }
    said >= 3
}

/// Every download piped to an interpreter here goes to `python -m json.tool`, which prints JSON.
fn only_json_formatting(c: &Compiled, line: &str, rule_index: usize) -> bool {
    c.each.get(rule_index).is_some_and(|re| {
        re.find_iter(line)
            .all(|m| line[m.end()..].trim_start().starts_with("-m json.tool"))
    })
}

/// HTML comments that give the agent orders: secrecy, an order addressed to the agent, or a
/// command. Author notes ("TODO", "last reviewed") pass.
fn comments(c: &Compiled, text: &str, hits: &mut Vec<(&'static str, Severity, usize)>) {
    let Some(rule) = SCAN_RULES
        .iter()
        .find(|r| r.id == "inject.hidden_instructions")
    else {
        return;
    };
    for caps in c.comment.captures_iter(text) {
        let (Some(whole), Some(body)) = (caps.get(0), caps.get(1)) else {
            continue;
        };
        let body = body.as_str();
        let orders = c.comment_secrecy.is_match(body)
            || (c.comment_address.is_match(body) && c.comment_action.is_match(body))
            || c.comment_command.is_match(body);
        if orders {
            let index = text[..whole.start()].matches('\n').count();
            hits.push((rule.id, rule.severity, index));
        }
    }
}

/// `word` in `line`, not as part of a longer name or path.
fn mentions(line: &str, word: &str) -> bool {
    let name = |ch: char| ch.is_alphanumeric() || ch == '_' || ch == '.';
    line.match_indices(word).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + word.len()..].chars().next();
        !before.is_some_and(name) && !after.is_some_and(|ch| name(ch) || ch == '/')
    })
}

/// A file downloaded then made executable or run (within the next lines), and code fetched
/// into a variable then evaluated.
fn downloads_run(c: &Compiled, lines: &Lines, hits: &mut Vec<(&'static str, Severity, usize)>) {
    let Some(rule) = SCAN_RULES.iter().find(|r| r.id == "exec.download_execute") else {
        return;
    };
    for (index, line) in lines.lines.iter().enumerate() {
        let end = (index + 21).min(lines.lines.len());
        if lines.has(index, aux::DOWNLOAD_TO)
            && let Some(caps) = c.download_to.captures(line)
        {
            let target = caps
                .iter()
                .skip(1)
                .flatten()
                .next()
                .map(|m| m.as_str())
                .unwrap_or("");
            // `curl -O URL` saves under the URL's last segment.
            let target = if target.contains("://") {
                target.rsplit('/').next().unwrap_or("")
            } else {
                target
            };
            let target = target.trim_start_matches('$').trim_matches(['{', '}']);
            if target.len() >= 2 {
                for later in index + 1..end {
                    if lines.has(later, aux::MAKE_EXEC) && mentions(lines.lines[later], target) {
                        hits.push((rule.id, rule.severity, later));
                    }
                }
            }
        }
        if lines.has(index, aux::FETCH_ASSIGN)
            && let Some(var) = c
                .fetch_assign
                .captures(line)
                .and_then(|caps| caps.get(1))
                .map(|m| m.as_str())
        {
            for later in index + 1..end {
                if !lines.has(later, aux::EVAL_CALL) {
                    continue;
                }
                let evaluated = c
                    .eval_call
                    .captures_iter(lines.lines[later])
                    .any(|e| e.get(2).is_some_and(|args| mentions(args.as_str(), var)));
                if evaluated {
                    hits.push((rule.id, rule.severity, later));
                }
            }
        }
    }
}

/// A persistence path put in a variable, then written through it.
fn persisted_through_variables(
    c: &Compiled,
    lines: &Lines,
    hits: &mut Vec<(&'static str, Severity, usize)>,
) {
    let Some(rule) = SCAN_RULES.iter().find(|r| r.id == "persist.agent_config") else {
        return;
    };
    let mut vars: Vec<&str> = Vec::new();
    for (index, line) in lines.lines.iter().enumerate() {
        if lines.has(index, aux::PERSIST_PATH)
            && let Some(var) = c.assign.captures(line).and_then(|caps| caps.get(1))
        {
            // Bounded, so that a file of such lines stays linear to scan.
            if vars.len() < 32 {
                vars.push(var.as_str());
            }
            continue;
        }
        if vars.is_empty() || !(lines.has(index, aux::WRITE_CALL) || line.contains("dump(")) {
            continue;
        }
        let written = c.write_call.captures_iter(line).any(|caps| {
            caps.iter()
                .skip(1)
                .flatten()
                .any(|m| vars.contains(&m.as_str()))
        });
        let dumped = line.contains("dump(")
            && vars.iter().any(|v| {
                line.contains(&format!("open({v}, \"w\""))
                    || line.contains(&format!("open({v}, 'w'"))
            });
        if written || dumped {
            hits.push((rule.id, rule.severity, index));
        }
    }
}
