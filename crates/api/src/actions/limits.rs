//! The cloud's limits per kind of parameter, as the types request structs declare their fields
//! with: the decoder checks them, so a refusal names the wire path (`Tag.3.Value`, `DesktopId`).
//! Where the SDK documents a limit it is the cloud's; elsewhere the cap is amc's own.
//! `docs/compatibility.md` lists every one of them: keep the two in step.

use pop::{List, Text};
use serde::Deserialize;

/// A resource id (`ecd-…`, `mt-…`, `llmt-…`, `rg-…`, `cn-hangzhou+dir-…`, an image or bundle).
/// Empty means "not given" (or missing, where the parameter is required).
pub type Id = Text<0, 64>;
/// A value of a known set (a status, type, mode, agent product or platform, region, channel
/// code): the action checks the set, this only bounds the text.
pub type Token = Text<0, 64>;
/// Display names: desktops (documented: up to 64), model groups, provider templates, channels.
pub type Name = Text<0, 64>;
/// An LLM template's name, which defaults to its `LlmCode` and is as long.
pub type LlmName = Text<0, 128>;
/// A user id (`EndUserId`, `AuthUsers`).
pub type UserId = Text<1, 64>;
/// Descriptions of model groups, provider templates and LLM templates.
pub type Description = Text<0, 1024>;
/// A JSON document in one parameter (`Config` of channels, model groups, providers and models).
pub type ConfigJson = Text<0, 16_384>;
/// A substring filter (`Name`, `LlmCode` of the model listings).
pub type Filter = Text<0, 128>;

/// Tags on one resource or in one filter (documented for resource groups; the same for desktops).
pub const MAX_TAGS: usize = 20;
/// Ids one call names, unless an action documents otherwise (`DesktopId`: 1 to 100).
pub const MAX_IDS: usize = 100;
/// Values of one list filter (statuses, versions, names, platforms, products).
pub const MAX_VALUES: usize = 100;

/// Up to `MAX` ids.
pub type Ids<const MAX: usize> = List<Id, MAX>;
/// A list filter of values of a known set.
pub type Tokens = List<Token, MAX_VALUES>;
/// A list filter of user ids.
pub type UserIds = List<UserId, MAX_VALUES>;

/// A tag as requests carry it (`Tag.N.Key`, `Tag.N.Value`): the key 1 to 128 characters, the
/// value up to 256 (the cloud's tag service; some product pages still say 128).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagInput {
    pub key: Text<1, 128>,
    #[serde(default)]
    pub value: Option<Text<0, 256>>,
}

impl TagInput {
    /// The key and the value (`None` when none was given).
    pub fn into_pair(self) -> (String, Option<String>) {
        (self.key.into_string(), self.value.map(Text::into_string))
    }
}

/// The tags of one call.
pub type Tags = List<TagInput, MAX_TAGS>;

/// Bounded texts as plain strings.
pub fn strings<const MIN: usize, const MAX: usize>(
    values: impl IntoIterator<Item = Text<MIN, MAX>>,
) -> Vec<String> {
    values.into_iter().map(Text::into_string).collect()
}
