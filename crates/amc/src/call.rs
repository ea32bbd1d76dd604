//! `amc call`: any action from the shell, signed like the SDKs sign (V3 by default).

use anyhow::{Context, bail};
use clap::Args;
use pop::FlatParams;
use pop::signature::{SigningInput, sign_v2, sign_v3};

#[derive(Args)]
pub struct CallArgs {
    /// The action, e.g. `DescribeDesktops`.
    action: String,
    /// Server address.
    #[arg(long, env = "AMC_ENDPOINT", default_value = "http://127.0.0.1:8080")]
    endpoint: String,
    #[arg(long, env = "AMC_ACCESS_KEY_ID")]
    access_key_id: String,
    #[arg(long, env = "AMC_ACCESS_KEY_SECRET", hide_env_values = true)]
    access_key_secret: String,
    /// The security token of a temporary (`STS.`) key from `AssumeRole`.
    #[arg(long, env = "AMC_SECURITY_TOKEN", hide_env_values = true)]
    security_token: Option<String>,
    /// Signature version: `v3` (ACS3-HMAC-SHA256) or `v2` (HMAC-SHA1).
    #[arg(long, default_value = "v3")]
    signature: String,
    /// `--Version V` and the action's parameters as `--Name value` (`--DesktopId.1 ecd-…`); the
    /// options above may also come among them.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    params: Vec<String>,
}

/// Splits the trailing words into the API version, the action's parameters, and this command's
/// own options given after the action (lower-case names never clash with the cloud's PascalCase).
fn parse_params(args: &mut CallArgs) -> anyhow::Result<(String, FlatParams)> {
    let mut version = None;
    let mut params = FlatParams::new();
    let raw = std::mem::take(&mut args.params);
    let mut items = raw.into_iter();
    while let Some(flag) = items.next() {
        let Some(name) = flag.strip_prefix("--") else {
            bail!("expected --Name before {flag:?}")
        };
        let (name, value) = match name.split_once('=') {
            Some((name, value)) => (name.to_string(), value.to_string()),
            None => (
                name.to_string(),
                items
                    .next()
                    .with_context(|| format!("--{name} needs a value"))?,
            ),
        };
        match name.as_str() {
            "Version" => version = Some(value),
            "endpoint" => args.endpoint = value,
            "access-key-id" => args.access_key_id = value,
            "access-key-secret" => args.access_key_secret = value,
            "security-token" => args.security_token = Some(value),
            "signature" => args.signature = value,
            _ => params.insert(name, value),
        }
    }
    Ok((
        version.context("--Version is required (e.g. --Version 2020-09-30)")?,
        params,
    ))
}

pub async fn run(mut args: CallArgs) -> anyhow::Result<()> {
    let (version, params) = parse_params(&mut args)?;
    let base = args.endpoint.trim_end_matches('/');
    let host = base.split_once("://").map_or(base, |(_, rest)| rest);
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let empty = FlatParams::new();
    let input = SigningInput {
        method: "POST",
        host,
        action: &args.action,
        version: &version,
        query: &empty,
        form: &params,
        access_key_id: &args.access_key_id,
        access_key_secret: &args.access_key_secret,
        security_token: args.security_token.as_deref(),
        nonce: &nonce,
        timestamp: chrono::Utc::now(),
    };
    let signed = match args.signature.as_str() {
        "v3" => sign_v3(&input),
        "v2" => sign_v2(&input),
        other => bail!("unknown signature version {other:?}: use v3 or v2"),
    };
    let url = format!(
        "{}{}",
        if base.contains("://") {
            base.to_string()
        } else {
            format!("http://{base}")
        },
        signed.path_and_query
    );
    let client = reqwest::Client::new();
    let mut request = client.request(reqwest::Method::POST, url).body(signed.body);
    for (name, value) in &signed.headers {
        if name != "host" {
            request = request.header(name, value);
        }
    }
    let response = request.send().await.context("sending the request")?;
    let status = response.status();
    let text = response.text().await.context("reading the response")?;
    let pretty = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or(text);
    println!("{pretty}");
    if !status.is_success() {
        std::process::exit(1);
    }
    Ok(())
}
