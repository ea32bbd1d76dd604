//! Token counts out of upstream answers, whole or streamed: OpenAI's `usage` (asked for on
//! streams with `stream_options.include_usage`), Anthropic's `usage` of `message_start` and
//! `message_delta`. When an answer carries none, what it produced is counted so that an
//! estimate can be made; a stream cut short is counted as far as it got.

use domain::credits::{Usage, estimate_tokens};
use serde::Deserialize;

/// The two wire dialects the gateway speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    OpenAi,
    Anthropic,
}

#[derive(Deserialize, Default)]
struct OpenAiUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<OpenAiPromptDetails>,
}

#[derive(Deserialize, Default)]
struct OpenAiPromptDetails {
    #[serde(default)]
    cached_tokens: u64,
}

impl OpenAiUsage {
    fn usage(&self) -> Usage {
        Usage {
            input: self.prompt_tokens,
            output: self.completion_tokens,
            cached: self
                .prompt_tokens_details
                .as_ref()
                .map_or(0, |d| d.cached_tokens),
        }
    }
}

#[derive(Deserialize, Default, Clone, Copy)]
struct AnthropicUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct OpenAiDelta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
}

#[derive(Deserialize)]
struct OpenAiChoice {
    #[serde(default)]
    delta: Option<OpenAiDelta>,
    #[serde(default)]
    message: Option<OpenAiDelta>,
}

#[derive(Deserialize)]
struct OpenAiBody {
    #[serde(default)]
    choices: Vec<OpenAiChoice>,
    #[serde(default)]
    usage: Option<OpenAiUsage>,
}

#[derive(Deserialize)]
struct AnthropicBlock {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    partial_json: Option<String>,
}

#[derive(Deserialize)]
struct AnthropicMessage {
    #[serde(default)]
    usage: Option<AnthropicUsage>,
    #[serde(default)]
    content: Vec<AnthropicBlock>,
}

#[derive(Deserialize)]
struct AnthropicEvent {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: Option<AnthropicMessage>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
    #[serde(default)]
    delta: Option<AnthropicBlock>,
}

/// What a call used: the upstream's figures, or an estimate (`estimated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counted {
    pub usage: Usage,
    pub estimated: bool,
}

/// Counts one answer as it passes.
#[derive(Debug)]
pub struct Counter {
    protocol: Protocol,
    /// Characters of the prompt, for an estimate.
    prompt_chars: usize,
    /// Characters produced so far.
    produced_chars: usize,
    input: Option<u64>,
    output: Option<u64>,
    /// Whether `output` is the answer's final count (Anthropic's `message_start` gives a
    /// first one, `message_delta` the last).
    output_final: bool,
    cached: u64,
    /// An unfinished line of a stream.
    line: Vec<u8>,
}

/// The longest line of a stream kept while waiting for its end; longer lines are skipped
/// (an event that big carries content, never usage alone).
const MAX_LINE: usize = 1 << 20;

impl Counter {
    pub fn new(protocol: Protocol, prompt_chars: usize) -> Counter {
        Counter {
            protocol,
            prompt_chars,
            produced_chars: 0,
            input: None,
            output: None,
            output_final: false,
            cached: 0,
            line: Vec::new(),
        }
    }

    /// Counts a whole (non-streamed) JSON answer.
    pub fn whole(&mut self, body: &[u8]) {
        match self.protocol {
            Protocol::OpenAi => {
                if let Ok(answer) = serde_json::from_slice::<OpenAiBody>(body) {
                    self.openai(answer);
                }
            }
            Protocol::Anthropic => {
                if let Ok(message) = serde_json::from_slice::<AnthropicMessage>(body) {
                    for block in &message.content {
                        self.produced(block);
                    }
                    if let Some(usage) = message.usage {
                        self.anthropic(usage);
                        self.output_final = self.output.is_some();
                    }
                }
            }
        }
    }

    /// Counts a piece of a server-sent event stream.
    pub fn stream(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            if self.line.is_empty() {
                self.event_line(&rest[..end]);
            } else {
                if self.line.len() + end <= MAX_LINE {
                    self.line.extend_from_slice(&rest[..end]);
                    let line = std::mem::take(&mut self.line);
                    self.event_line(&line);
                }
                self.line.clear();
            }
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() && self.line.len() + rest.len() <= MAX_LINE {
            self.line.extend_from_slice(rest);
        }
    }

    fn event_line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        let data = data.strip_prefix(b" ").unwrap_or(data);
        if data == b"[DONE]" {
            return;
        }
        match self.protocol {
            Protocol::OpenAi => {
                if let Ok(chunk) = serde_json::from_slice::<OpenAiBody>(data) {
                    self.openai(chunk);
                }
            }
            Protocol::Anthropic => {
                let Ok(event) = serde_json::from_slice::<AnthropicEvent>(data) else {
                    return;
                };
                match event.kind.as_str() {
                    "message_start" => {
                        if let Some(usage) = event.message.and_then(|m| m.usage) {
                            self.anthropic(usage);
                        }
                    }
                    "message_delta" => {
                        if let Some(usage) = event.usage {
                            self.anthropic(usage);
                            self.output_final = self.output.is_some();
                        }
                    }
                    "content_block_delta" => {
                        if let Some(delta) = &event.delta {
                            self.produced(delta);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn openai(&mut self, answer: OpenAiBody) {
        for choice in &answer.choices {
            for part in [&choice.delta, &choice.message].into_iter().flatten() {
                self.produced_chars += part.content.as_deref().map_or(0, |c| c.chars().count());
                self.produced_chars += part
                    .reasoning_content
                    .as_deref()
                    .map_or(0, |c| c.chars().count());
            }
        }
        if let Some(usage) = answer.usage {
            let usage = usage.usage();
            self.input = Some(usage.input);
            self.output = Some(usage.output);
            self.output_final = true;
            self.cached = usage.cached;
        }
    }

    fn anthropic(&mut self, usage: AnthropicUsage) {
        if let Some(input) = usage.input_tokens {
            let read = usage.cache_read_input_tokens.unwrap_or(0);
            let created = usage.cache_creation_input_tokens.unwrap_or(0);
            // Anthropic counts cached prompt tokens apart from input_tokens.
            self.input = Some(input + read + created);
            self.cached = read;
        }
        if let Some(output) = usage.output_tokens {
            self.output = Some(output);
        }
    }

    fn produced(&mut self, block: &AnthropicBlock) {
        for text in [&block.text, &block.thinking, &block.partial_json]
            .into_iter()
            .flatten()
        {
            self.produced_chars += text.chars().count();
        }
    }

    /// What the answer used, as far as it got: the upstream's counts where it gave them,
    /// estimates (marked) for what it did not. An Anthropic stream cut off after
    /// `message_start` has its input counted and its output estimated.
    pub fn counted(&self) -> Counted {
        let estimated_output = estimate_tokens(self.produced_chars);
        let usage = Usage {
            input: self
                .input
                .unwrap_or_else(|| estimate_tokens(self.prompt_chars)),
            output: match self.output {
                Some(reported) if self.output_final => reported,
                // message_start's first count: a stream cut short produced more than that.
                Some(reported) => reported.max(estimated_output),
                None => estimated_output,
            },
            cached: self.cached,
        };
        Counted {
            usage,
            estimated: self.input.is_none() || !self.output_final,
        }
    }
}

/// Characters of the text a request's messages carry (its prompt), for estimates.
pub fn prompt_chars(request: &serde_json::Map<String, serde_json::Value>) -> usize {
    fn text_chars(value: &serde_json::Value) -> usize {
        match value {
            serde_json::Value::String(s) => s.chars().count(),
            serde_json::Value::Array(items) => items.iter().map(text_chars).sum(),
            serde_json::Value::Object(map) => map
                .iter()
                .filter(|(k, _)| matches!(k.as_str(), "content" | "text"))
                .map(|(_, v)| text_chars(v))
                .sum(),
            _ => 0,
        }
    }
    ["messages", "system"]
        .iter()
        .filter_map(|k| request.get(*k))
        .map(|v| match v {
            serde_json::Value::Array(messages) => messages.iter().map(text_chars).sum(),
            other => text_chars(other),
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn openai_streams_give_their_final_usage() {
        let mut counter = Counter::new(Protocol::OpenAi, 40);
        let stream = b"data: {\"choices\":[{\"delta\":{\"content\":\"Hello\"}}]}\n\n\
            data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,\
            \"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\ndata: [DONE]\n\n";
        // Fed in pieces that split lines anywhere.
        for piece in stream.chunks(7) {
            counter.stream(piece);
        }
        assert_eq!(
            counter.counted(),
            Counted {
                usage: Usage {
                    input: 12,
                    output: 3,
                    cached: 4
                },
                estimated: false
            }
        );
    }

    #[test]
    fn answers_without_usage_are_estimated() {
        let mut counter = Counter::new(Protocol::OpenAi, 40);
        counter.whole(br#"{"choices":[{"message":{"content":"12345678"}}]}"#);
        assert_eq!(
            counter.counted(),
            Counted {
                usage: Usage {
                    input: 10,
                    output: 2,
                    cached: 0
                },
                estimated: true
            }
        );
    }

    #[test]
    fn anthropic_streams_count_start_and_delta() {
        let mut counter = Counter::new(Protocol::Anthropic, 0);
        counter.stream(b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":20,\"cache_read_input_tokens\":5,\"output_tokens\":1}}}\n\n");
        counter.stream(b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"abcdefghijkl\"}}\n\n");
        // Cut off here: input as reported, output estimated from what was produced.
        assert_eq!(
            counter.counted().usage,
            Usage {
                input: 25,
                output: 3,
                cached: 5
            }
        );
        counter.stream(b"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":7}}\n\n");
        assert_eq!(counter.counted().usage.output, 7);
        assert!(!counter.counted().estimated);
    }

    #[test]
    fn prompts_are_measured_in_characters() {
        let request = serde_json::json!({
            "system": "abc",
            "messages": [{"role": "user", "content": "héllo"},
                         {"role": "user", "content": [{"type": "text", "text": "12"}]}]
        });
        assert_eq!(
            prompt_chars(request.as_object().unwrap_or(&serde_json::Map::new())),
            10
        );
    }

    proptest! {
        #[test]
        fn any_bytes_are_counted_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let mut counter = Counter::new(Protocol::Anthropic, 1);
            counter.stream(&bytes);
            counter.whole(&bytes);
            let mut counter = Counter::new(Protocol::OpenAi, 1);
            counter.stream(&bytes);
            let _ = counter.counted();
        }
    }
}
