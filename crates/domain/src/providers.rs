//! The built-in catalogue of managed model providers behind `ListModelProviderEndpoints` and the
//! `Managed` provider type: well-known vendors, their public API endpoints, protocols and tags.
//! `docs/model-providers.md` is the human-readable twin of this table; keep both in step.
//!
//! Protocols use the names agents understand (`openai-completions`, `openai-responses`,
//! `anthropic-messages`, `google-generative-ai`), so a base URL and protocol taken from here can
//! be written into an agent's config as they are.

/// One API endpoint of a vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// Endpoint key, unique within its vendor (e.g. `cn-beijing`, `coding-openai`).
    pub name: &'static str,
    pub base_url: &'static str,
    pub api: &'static str,
    pub description: &'static str,
    pub tags: &'static [&'static str],
}

/// A managed provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vendor {
    /// amc's provider key (what `ProviderName` says when no agent alias applies).
    pub name: &'static str,
    pub description: &'static str,
    /// Where a user obtains an API key.
    pub provider_url: &'static str,
    /// `(agent provider, name that agent uses for this vendor)`.
    pub aliases: &'static [(&'static str, &'static str)],
    /// The first endpoint is the default of a `Managed` provider created without a base URL.
    pub endpoints: &'static [Endpoint],
}

impl Vendor {
    /// The name `agent_provider` (e.g. `OpenClaw`, `HermesAgent`) uses for this vendor.
    pub fn name_for(&self, agent_provider: Option<&str>) -> &'static str {
        agent_provider
            .and_then(|agent| self.aliases.iter().find(|(a, _)| *a == agent))
            .map_or(self.name, |(_, alias)| alias)
    }
}

const OPENAI: &str = "openai-completions";
const RESPONSES: &str = "openai-responses";
const ANTHROPIC: &str = "anthropic-messages";
const GOOGLE: &str = "google-generative-ai";

pub static CATALOGUE: &[Vendor] = &[
    Vendor {
        name: "bailian",
        description: "Alibaba Cloud Model Studio (Bailian / DashScope): Qwen and hosted open models",
        provider_url: "https://bailian.console.aliyun.com/",
        aliases: &[],
        endpoints: &[
            Endpoint {
                name: "cn-beijing",
                base_url: "https://dashscope.aliyuncs.com/compatible-mode/v1",
                api: OPENAI,
                description: "Pay-as-you-go, mainland China (Beijing)",
                tags: &["on-demand", "cn-beijing"],
            },
            Endpoint {
                name: "ap-southeast-1",
                base_url: "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
                api: OPENAI,
                description: "Pay-as-you-go, international (Singapore)",
                tags: &["on-demand", "ap-southeast-1"],
            },
            Endpoint {
                name: "coding-openai",
                base_url: "https://coding.dashscope.aliyuncs.com/v1",
                api: OPENAI,
                description: "Coding Plan subscription, OpenAI-compatible",
                tags: &["coding-plan", "cn-beijing"],
            },
            Endpoint {
                name: "cn-beijing-anthropic",
                base_url: "https://dashscope.aliyuncs.com/apps/anthropic",
                api: ANTHROPIC,
                description: "Pay-as-you-go, Anthropic-compatible",
                tags: &["on-demand", "cn-beijing"],
            },
        ],
    },
    Vendor {
        name: "deepseek",
        description: "DeepSeek: DeepSeek-V3 chat and R1 reasoning models",
        provider_url: "https://platform.deepseek.com/",
        aliases: &[],
        endpoints: &[
            Endpoint {
                name: "default",
                base_url: "https://api.deepseek.com/v1",
                api: OPENAI,
                description: "OpenAI-compatible API",
                tags: &["on-demand"],
            },
            Endpoint {
                name: "anthropic",
                base_url: "https://api.deepseek.com/anthropic",
                api: ANTHROPIC,
                description: "Anthropic-compatible API",
                tags: &["on-demand"],
            },
        ],
    },
    Vendor {
        name: "moonshot",
        description: "Moonshot AI: Kimi models",
        provider_url: "https://platform.moonshot.cn/",
        aliases: &[("HermesAgent", "kimi-coding")],
        endpoints: &[
            Endpoint {
                name: "cn",
                base_url: "https://api.moonshot.cn/v1",
                api: OPENAI,
                description: "Mainland China",
                tags: &["on-demand", "cn"],
            },
            Endpoint {
                name: "global",
                base_url: "https://api.moonshot.ai/v1",
                api: OPENAI,
                description: "International",
                tags: &["on-demand", "global"],
            },
            Endpoint {
                name: "cn-anthropic",
                base_url: "https://api.moonshot.cn/anthropic",
                api: ANTHROPIC,
                description: "Mainland China, Anthropic-compatible",
                tags: &["on-demand", "cn"],
            },
        ],
    },
    Vendor {
        name: "zhipu",
        description: "Zhipu AI / Z.ai: GLM models",
        provider_url: "https://open.bigmodel.cn/",
        aliases: &[("OpenClaw", "zai"), ("HermesAgent", "zai")],
        endpoints: &[
            Endpoint {
                name: "cn",
                base_url: "https://open.bigmodel.cn/api/paas/v4",
                api: OPENAI,
                description: "BigModel open platform, mainland China",
                tags: &["on-demand", "cn"],
            },
            Endpoint {
                name: "coding-openai",
                base_url: "https://open.bigmodel.cn/api/coding/paas/v4",
                api: OPENAI,
                description: "GLM Coding Plan, OpenAI-compatible",
                tags: &["coding-plan", "cn"],
            },
            Endpoint {
                name: "cn-anthropic",
                base_url: "https://open.bigmodel.cn/api/anthropic",
                api: ANTHROPIC,
                description: "Anthropic-compatible",
                tags: &["on-demand", "cn"],
            },
            Endpoint {
                name: "global",
                base_url: "https://api.z.ai/api/paas/v4",
                api: OPENAI,
                description: "Z.ai, international",
                tags: &["on-demand", "global"],
            },
        ],
    },
    Vendor {
        name: "minimax",
        description: "MiniMax: MiniMax-M series models",
        provider_url: "https://platform.minimaxi.com/",
        aliases: &[],
        endpoints: &[
            Endpoint {
                name: "cn",
                base_url: "https://api.minimaxi.com/v1",
                api: OPENAI,
                description: "Mainland China",
                tags: &["on-demand", "cn"],
            },
            Endpoint {
                name: "global",
                base_url: "https://api.minimax.io/v1",
                api: OPENAI,
                description: "International",
                tags: &["on-demand", "global"],
            },
            Endpoint {
                name: "cn-anthropic",
                base_url: "https://api.minimaxi.com/anthropic",
                api: ANTHROPIC,
                description: "Mainland China, Anthropic-compatible",
                tags: &["on-demand", "cn"],
            },
        ],
    },
    Vendor {
        name: "siliconflow",
        description: "SiliconFlow: hosted open models (DeepSeek, Qwen, GLM, Kimi, ...)",
        provider_url: "https://cloud.siliconflow.cn/",
        aliases: &[],
        endpoints: &[
            Endpoint {
                name: "cn",
                base_url: "https://api.siliconflow.cn/v1",
                api: OPENAI,
                description: "Mainland China",
                tags: &["on-demand", "cn"],
            },
            Endpoint {
                name: "global",
                base_url: "https://api.siliconflow.com/v1",
                api: OPENAI,
                description: "International",
                tags: &["on-demand", "global"],
            },
        ],
    },
    Vendor {
        name: "volcengine",
        description: "Volcengine Ark (ByteDance): Doubao and hosted open models",
        provider_url: "https://console.volcengine.com/ark",
        aliases: &[],
        endpoints: &[Endpoint {
            name: "cn-beijing",
            base_url: "https://ark.cn-beijing.volces.com/api/v3",
            api: OPENAI,
            description: "Ark inference, Beijing",
            tags: &["on-demand", "cn-beijing"],
        }],
    },
    Vendor {
        name: "hunyuan",
        description: "Tencent Hunyuan",
        provider_url: "https://console.cloud.tencent.com/hunyuan",
        aliases: &[],
        endpoints: &[Endpoint {
            name: "default",
            base_url: "https://api.hunyuan.cloud.tencent.com/v1",
            api: OPENAI,
            description: "OpenAI-compatible API",
            tags: &["on-demand"],
        }],
    },
    Vendor {
        name: "qianfan",
        description: "Baidu AI Cloud Qianfan: ERNIE and hosted open models",
        provider_url: "https://console.bce.baidu.com/qianfan/",
        aliases: &[],
        endpoints: &[Endpoint {
            name: "default",
            base_url: "https://qianfan.baidubce.com/v2",
            api: OPENAI,
            description: "OpenAI-compatible API (v2)",
            tags: &["on-demand"],
        }],
    },
    Vendor {
        name: "openai",
        description: "OpenAI: GPT models",
        provider_url: "https://platform.openai.com/",
        aliases: &[],
        endpoints: &[
            Endpoint {
                name: "responses",
                base_url: "https://api.openai.com/v1",
                api: RESPONSES,
                description: "Responses API",
                tags: &["on-demand"],
            },
            Endpoint {
                name: "chat-completions",
                base_url: "https://api.openai.com/v1",
                api: OPENAI,
                description: "Chat Completions API",
                tags: &["on-demand"],
            },
        ],
    },
    Vendor {
        name: "anthropic",
        description: "Anthropic: Claude models",
        provider_url: "https://console.anthropic.com/",
        aliases: &[],
        endpoints: &[Endpoint {
            name: "default",
            base_url: "https://api.anthropic.com",
            api: ANTHROPIC,
            description: "Messages API",
            tags: &["on-demand"],
        }],
    },
    Vendor {
        name: "gemini",
        description: "Google Gemini (AI Studio)",
        provider_url: "https://aistudio.google.com/",
        aliases: &[("OpenClaw", "google")],
        endpoints: &[
            Endpoint {
                name: "openai",
                base_url: "https://generativelanguage.googleapis.com/v1beta/openai",
                api: OPENAI,
                description: "OpenAI-compatible endpoint",
                tags: &["on-demand"],
            },
            Endpoint {
                name: "native",
                base_url: "https://generativelanguage.googleapis.com/v1beta",
                api: GOOGLE,
                description: "Native Gemini API",
                tags: &["on-demand"],
            },
        ],
    },
    Vendor {
        name: "openrouter",
        description: "OpenRouter: one API for many vendors' models",
        provider_url: "https://openrouter.ai/",
        aliases: &[],
        endpoints: &[Endpoint {
            name: "default",
            base_url: "https://openrouter.ai/api/v1",
            api: OPENAI,
            description: "OpenAI-compatible API",
            tags: &["on-demand", "aggregator"],
        }],
    },
    Vendor {
        name: "xai",
        description: "xAI: Grok models",
        provider_url: "https://console.x.ai/",
        aliases: &[],
        endpoints: &[Endpoint {
            name: "default",
            base_url: "https://api.x.ai/v1",
            api: OPENAI,
            description: "OpenAI-compatible API",
            tags: &["on-demand"],
        }],
    },
    Vendor {
        name: "mistral",
        description: "Mistral AI",
        provider_url: "https://console.mistral.ai/",
        aliases: &[],
        endpoints: &[Endpoint {
            name: "default",
            base_url: "https://api.mistral.ai/v1",
            api: OPENAI,
            description: "OpenAI-compatible API",
            tags: &["on-demand"],
        }],
    },
];

/// The vendor called `name`, by amc's key or by any agent's alias.
pub fn find(name: &str) -> Option<&'static Vendor> {
    CATALOGUE
        .iter()
        .find(|v| v.name == name || v.aliases.iter().any(|(_, alias)| *alias == name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{API_PROTOCOLS, validate_base_url};
    use std::collections::HashSet;

    #[test]
    fn the_brief_vendors_are_present() {
        for name in [
            "bailian",
            "deepseek",
            "moonshot",
            "zhipu",
            "minimax",
            "siliconflow",
            "openai",
            "anthropic",
            "openrouter",
            "volcengine",
            "hunyuan",
            "gemini",
        ] {
            assert!(find(name).is_some(), "{name} missing");
        }
    }

    #[test]
    fn entries_are_well_formed() {
        let mut names = HashSet::new();
        for vendor in CATALOGUE {
            assert!(names.insert(vendor.name), "{} twice", vendor.name);
            let aliases: HashSet<&str> = vendor.aliases.iter().map(|(_, a)| *a).collect();
            for alias in aliases {
                assert!(names.insert(alias), "alias {alias} collides");
            }
            assert!(
                !vendor.endpoints.is_empty(),
                "{} has no endpoint",
                vendor.name
            );
            assert!(validate_base_url("url", vendor.provider_url).is_ok());
            let mut endpoint_names = HashSet::new();
            for e in vendor.endpoints {
                assert!(
                    endpoint_names.insert(e.name),
                    "{}:{} twice",
                    vendor.name,
                    e.name
                );
                assert!(
                    validate_base_url("url", e.base_url).is_ok(),
                    "{}",
                    e.base_url
                );
                assert!(e.base_url.starts_with("https://"), "{}", e.base_url);
                assert!(API_PROTOCOLS.contains(&e.api), "{}", e.api);
                assert!(!e.tags.is_empty());
            }
        }
    }

    /// The table of `docs/model-providers.md`, one row per endpoint.
    fn markdown_table() -> String {
        let mut out = String::from(
            "| ProviderName | agent aliases | endpoint | BaseUrl | ApiType | tags |\n|---|---|---|---|---|---|\n",
        );
        for vendor in CATALOGUE {
            let aliases: Vec<String> = vendor
                .aliases
                .iter()
                .map(|(agent, alias)| format!("{agent}: `{alias}`"))
                .collect();
            for e in vendor.endpoints {
                out.push_str(&format!(
                    "| `{}` | {} | `{}` | {} | `{}` | {} |\n",
                    vendor.name,
                    aliases.join(", "),
                    e.name,
                    e.base_url,
                    e.api,
                    e.tags.join(", ")
                ));
            }
        }
        out
    }

    #[test]
    fn the_documented_table_is_the_catalogue() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/model-providers.md");
        let doc = std::fs::read_to_string(path).unwrap_or_default();
        let table = markdown_table();
        assert!(
            doc.contains(&table),
            "docs/model-providers.md must contain this table:\n{table}"
        );
    }

    #[test]
    fn aliases_depend_on_the_agent() {
        let zhipu = find("zai");
        assert_eq!(zhipu.map(|v| v.name), Some("zhipu"));
        assert_eq!(zhipu.map(|v| v.name_for(Some("OpenClaw"))), Some("zai"));
        assert_eq!(zhipu.map(|v| v.name_for(None)), Some("zhipu"));
        let moonshot = find("moonshot");
        assert_eq!(
            moonshot.map(|v| v.name_for(Some("HermesAgent"))),
            Some("kimi-coding")
        );
        assert_eq!(
            moonshot.map(|v| v.name_for(Some("OpenClaw"))),
            Some("moonshot")
        );
    }
}
