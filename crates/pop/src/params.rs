//! Parameters as they travel (a flat map of wire names such as `Ids.1` or `List.1.Name` to strings)
//! and their decoding into typed request structs.
//!
//! [`from_params`] un-flattens the names into a tree (`.` separates levels, an all-digit segment is a
//! 1-based list index) and runs a serde deserializer over it. Where a list or a structure is expected,
//! a single parameter holding JSON (the SDKs' "shrink" style, e.g. `Ids=["a","b"]`) is accepted too.
//! Every failure names the full wire path of the parameter (`Tag.2.Key`).
//!
//! Bounds hold for every action before its own rules run: at most [`MAX_PARAMS`] parameters, a
//! value at most [`MAX_VALUE_BYTES`] long, a list (flattened or JSON) at most [`MAX_LIST_ITEMS`]
//! long, and no control character in a name or value (tab, line feed and carriage return aside),
//! whether raw or escaped inside JSON. Actions with a smaller limit of the cloud's use
//! [`crate::bounded`].

use std::collections::BTreeMap;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

use crate::ApiError;

/// Most levels a parameter name may have (`A.1.B` has three).
pub const MAX_DEPTH: usize = 10;
/// Most parameters one call may carry.
pub const MAX_PARAMS: usize = 10_000;
/// Longest value of one parameter, in bytes (a JSON-encoded list or structure included).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Most items of one list, flattened (`Ids.N`) or JSON (`Ids=[...]`).
pub const MAX_LIST_ITEMS: usize = 1000;

/// Business parameters of one call, query and form body merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlatParams(BTreeMap<String, String>);

impl FlatParams {
    pub fn new() -> Self {
        FlatParams(BTreeMap::new())
    }
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for FlatParams {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        FlatParams(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// Decodes a typed request from flat parameters.
///
/// Errors: a malformed name (empty segment, more than [`MAX_DEPTH`] levels, a name that is both a
/// value and has children, list index 0), a value that does not parse as the field's type, or more
/// than [`MAX_PARAMS`] parameters give `InvalidParameter`; a missing required field gives
/// `MissingParameter`. Both name the full wire path. Unknown parameters are ignored.
pub fn from_params<T: DeserializeOwned>(params: &FlatParams) -> Result<T, ApiError> {
    let tree = build_tree(params)?;
    let de = De {
        val: Val::Tree(&tree),
        path: String::new(),
    };
    T::deserialize(de).map_err(|e| e.into_api(""))
}

/// Flattens a JSON object the way the SDKs do (`Utils.query`): lists become `Name.N`, objects `Name.Key`.
///
/// Scalars are written as Python's `str()` writes them (`True`/`False`, `5`, `1.5`); `null`, empty
/// lists and empty objects produce nothing. A root that is not an object or array produces nothing.
pub fn flatten(value: &serde_json::Value) -> FlatParams {
    let mut out = FlatParams::new();
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                flatten_into(&mut out, key.clone(), child);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                flatten_into(&mut out, (i + 1).to_string(), child);
            }
        }
        _ => {}
    }
    out
}

fn flatten_into(out: &mut FlatParams, name: String, value: &serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Null => {}
        Value::Bool(true) => out.insert(name, "True"),
        Value::Bool(false) => out.insert(name, "False"),
        Value::Number(n) => out.insert(name, n.to_string()),
        Value::String(s) => out.insert(name, s.clone()),
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                flatten_into(out, format!("{name}.{}", i + 1), child);
            }
        }
        Value::Object(map) => {
            for (key, child) in map {
                flatten_into(out, format!("{name}.{key}"), child);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The tree

#[derive(Debug)]
enum Node {
    Leaf(String),
    Branch(BTreeMap<String, Node>),
}

fn build_tree(params: &FlatParams) -> Result<BTreeMap<String, Node>, ApiError> {
    if params.len() > MAX_PARAMS {
        return Err(ApiError::invalid_parameter(
            "parameters",
            format!("more than {MAX_PARAMS} parameters"),
        ));
    }
    let mut root: BTreeMap<String, Node> = BTreeMap::new();
    for (name, value) in params.iter() {
        let segments: Vec<&str> = name.split('.').collect();
        if segments.len() > MAX_DEPTH {
            return Err(ApiError::invalid_parameter(
                name,
                format!("more than {MAX_DEPTH} levels"),
            ));
        }
        if segments.iter().any(|s| s.is_empty()) {
            return Err(ApiError::invalid_parameter(name, "empty name segment"));
        }
        check_text(name, value)?;
        let conflict =
            || ApiError::invalid_parameter(name, "given both as a value and as a structure");
        let mut level = &mut root;
        let (last, parents) = match segments.split_last() {
            Some(split) => split,
            None => continue,
        };
        for segment in parents {
            let node = level
                .entry((*segment).to_owned())
                .or_insert_with(|| Node::Branch(BTreeMap::new()));
            level = match node {
                Node::Branch(children) => children,
                Node::Leaf(_) => return Err(conflict()),
            };
        }
        if level
            .insert((*last).to_owned(), Node::Leaf(value.to_owned()))
            .is_some()
        {
            // The map is sorted, so `A` comes before `A.1`: a second insert can only hit a branch.
            return Err(conflict());
        }
    }
    Ok(root)
}

/// Refuses a value that is too long or holds a control character (raw, or escaped in JSON).
fn check_text(name: &str, text: &str) -> Result<(), ApiError> {
    if name.len() > 256 || name.chars().any(char::is_control) {
        // Never echo a hostile name as it came: it goes into the message and the log.
        let shown: String = name
            .chars()
            .take(64)
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        let reason = if name.len() > 256 {
            "name longer than 256 bytes"
        } else {
            "must not contain control characters"
        };
        return Err(ApiError::invalid_parameter(&shown, reason));
    }
    if text.len() > MAX_VALUE_BYTES {
        return Err(ApiError::invalid_parameter(
            name,
            format!("longer than {MAX_VALUE_BYTES} bytes"),
        ));
    }
    let refused = || ApiError::invalid_parameter(name, "must not contain control characters");
    if text.chars().any(is_refused_control) {
        return Err(refused());
    }
    let looks_like_json = matches!(
        text.trim_start().as_bytes().first(),
        Some(b'[' | b'{' | b'"')
    );
    if looks_like_json && has_escaped_control(text) {
        return Err(refused());
    }
    Ok(())
}

/// Control characters other than tab, line feed and carriage return.
fn is_refused_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// Whether JSON text holds a `\uXXXX` escape of a refused control character.
fn has_escaped_control(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) == Some(&b'u') {
            let code = bytes
                .get(i + 2..i + 6)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .and_then(char::from_u32);
            if code.is_some_and(is_refused_control) {
                return true;
            }
        }
        // Skip the escaped character, so that `\\u0000` (an escaped backslash) is not read as one.
        i += 2;
    }
    false
}

// ---------------------------------------------------------------------------------------------
// Errors inside the deserializer

/// An error while deserializing; becomes an [`ApiError`] at the level that knows the wire path.
#[derive(Debug, thiserror::Error)]
enum DeError {
    #[error("{0}")]
    Api(ApiError),
    #[error("missing field {0}")]
    Missing(String),
    #[error("{0}")]
    Custom(String),
}

impl de::Error for DeError {
    fn custom<M: std::fmt::Display>(msg: M) -> Self {
        DeError::Custom(msg.to_string())
    }
    fn missing_field(field: &'static str) -> Self {
        DeError::Missing(field.to_owned())
    }
}

impl DeError {
    fn into_api(self, path: &str) -> ApiError {
        match self {
            DeError::Api(e) => e,
            DeError::Missing(field) => ApiError::missing_parameter(&join(path, &field)),
            DeError::Custom(msg) => ApiError::invalid_parameter(display_path(path), msg),
        }
    }
    /// Fixes the error to `path` unless an inner level already did.
    fn at(self, path: &str) -> DeError {
        DeError::Api(self.into_api(path))
    }
    fn invalid(path: &str, reason: impl std::fmt::Display) -> DeError {
        DeError::Api(ApiError::invalid_parameter(display_path(path), reason))
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "parameters" } else { path }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

// ---------------------------------------------------------------------------------------------
// The deserializer

enum Val<'a> {
    Leaf(&'a str),
    Tree(&'a BTreeMap<String, Node>),
    Json(serde_json::Value),
}

struct De<'a> {
    val: Val<'a>,
    path: String,
}

impl<'a> De<'a> {
    fn node(node: &'a Node, path: String) -> Self {
        let val = match node {
            Node::Leaf(s) => Val::Leaf(s),
            Node::Branch(children) => Val::Tree(children),
        };
        De { val, path }
    }

    /// The text of a scalar, or `None` for structures; JSON numbers and booleans give their text.
    fn scalar_text(&self) -> Option<std::borrow::Cow<'_, str>> {
        use serde_json::Value;
        match &self.val {
            Val::Leaf(s) => Some((*s).into()),
            Val::Json(Value::String(s)) => Some(s.as_str().into()),
            Val::Json(Value::Number(n)) => Some(n.to_string().into()),
            Val::Json(Value::Bool(b)) => Some(b.to_string().into()),
            _ => None,
        }
    }

    fn parse<T: std::str::FromStr>(&self, what: &str) -> Result<T, DeError> {
        match self.scalar_text() {
            Some(text) => text
                .parse::<T>()
                .map_err(|_| DeError::invalid(&self.path, format!("expected {what}"))),
            None => Err(DeError::invalid(
                &self.path,
                format!("expected {what}, got a structure"),
            )),
        }
    }

    fn parse_bool(&self) -> Result<bool, DeError> {
        match self.scalar_text() {
            Some(t) if t.eq_ignore_ascii_case("true") => Ok(true),
            Some(t) if t.eq_ignore_ascii_case("false") => Ok(false),
            _ => Err(DeError::invalid(&self.path, "expected true or false")),
        }
    }

    fn parse_float(&self) -> Result<f64, DeError> {
        let value: f64 = self.parse("a number")?;
        if value.is_finite() {
            Ok(value)
        } else {
            Err(DeError::invalid(&self.path, "expected a finite number"))
        }
    }

    /// A leaf (or JSON string) holding JSON text whose first character is `open`.
    fn shrunk_json(&self, text: &str, open: char) -> Option<Result<serde_json::Value, DeError>> {
        if !text.trim_start().starts_with(open) {
            return None;
        }
        Some(
            serde_json::from_str(text)
                .map_err(|e| DeError::invalid(&self.path, format!("malformed JSON: {e}"))),
        )
    }
}

macro_rules! de_int {
    ($($method:ident $visit:ident $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let value: $ty = self.parse("an integer")?;
            visitor.$visit(value).map_err(|e: DeError| e.at(&self.path))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for De<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let path = self.path;
        match self.val {
            Val::Leaf(s) => visitor.visit_str(s).map_err(|e: DeError| e.at(&path)),
            Val::Tree(children) => {
                if !children.is_empty()
                    && children
                        .keys()
                        .all(|k| k.bytes().all(|b| b.is_ascii_digit()))
                {
                    visitor
                        .visit_seq(tree_seq(children, &path)?)
                        .map_err(|e: DeError| e.at(&path))
                } else {
                    visitor
                        .visit_map(TreeMap::new(children, path.clone()))
                        .map_err(|e: DeError| e.at(&path))
                }
            }
            Val::Json(value) => de::Deserializer::deserialize_any(value, visitor)
                .map_err(|e| DeError::invalid(&path, e)),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let value = self.parse_bool()?;
        visitor
            .visit_bool(value)
            .map_err(|e: DeError| e.at(&self.path))
    }

    de_int! {
        deserialize_i8 visit_i8 i8, deserialize_i16 visit_i16 i16, deserialize_i32 visit_i32 i32,
        deserialize_i64 visit_i64 i64, deserialize_i128 visit_i128 i128,
        deserialize_u8 visit_u8 u8, deserialize_u16 visit_u16 u16, deserialize_u32 visit_u32 u32,
        deserialize_u64 visit_u64 u64, deserialize_u128 visit_u128 u128,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let value = self.parse_float()?;
        visitor
            .visit_f32(value as f32)
            .map_err(|e: DeError| e.at(&self.path))
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let value = self.parse_float()?;
        visitor
            .visit_f64(value)
            .map_err(|e: DeError| e.at(&self.path))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        use serde_json::Value;
        let path = self.path;
        match self.val {
            Val::Leaf(s) => visitor.visit_str(s),
            Val::Json(Value::String(s)) => visitor.visit_string(s),
            // Inside shrunk JSON, numbers and booleans are accepted as their text.
            Val::Json(Value::Number(n)) => visitor.visit_string(n.to_string()),
            Val::Json(Value::Bool(b)) => visitor.visit_string(b.to_string()),
            Val::Json(Value::Null) => {
                return Err(DeError::invalid(&path, "expected a string, got null"));
            }
            Val::Json(_) => {
                return Err(DeError::invalid(
                    &path,
                    "expected a string, got a structure",
                ));
            }
            Val::Tree(_) => {
                return Err(DeError::invalid(
                    &path,
                    "expected a string, got a structure",
                ));
            }
        }
        .map_err(|e: DeError| e.at(&path))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if matches!(self.val, Val::Json(serde_json::Value::Null)) {
            let path = self.path;
            visitor.visit_none().map_err(|e: DeError| e.at(&path))
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit().map_err(|e: DeError| e.at(&self.path))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        use serde_json::Value;
        let path = self.path.clone();
        let result = match &self.val {
            Val::Tree(children) => visitor.visit_seq(tree_seq(children, &path)?),
            Val::Leaf(text) => match self.shrunk_json(text, '[') {
                Some(json) => json_seq(json?, &path, visitor),
                None => visitor.visit_seq(OneSeq(Some(self))),
            },
            Val::Json(Value::String(text)) => match self.shrunk_json(text, '[') {
                Some(json) => json_seq(json?, &path, visitor),
                None => visitor.visit_seq(OneSeq(Some(self))),
            },
            Val::Json(Value::Array(_)) => match self.val {
                Val::Json(array) => json_seq(array, &path, visitor),
                _ => return Err(DeError::invalid(&path, "expected a list")),
            },
            Val::Json(_) => visitor.visit_seq(OneSeq(Some(self))),
        };
        result.map_err(|e: DeError| e.at(&path))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        use serde_json::Value;
        let path = self.path.clone();
        let json = match self.val {
            Val::Tree(children) => {
                return visitor
                    .visit_map(TreeMap::new(children, path.clone()))
                    .map_err(|e: DeError| e.at(&path));
            }
            Val::Leaf(text) => self.shrunk_json(text, '{'),
            Val::Json(Value::String(ref text)) => self.shrunk_json(text, '{'),
            Val::Json(Value::Object(map)) => Some(Ok(Value::Object(map))),
            Val::Json(_) => None,
        };
        match json {
            Some(Ok(Value::Object(map))) => visitor.visit_map(JsonMap {
                iter: map.into_iter(),
                value: None,
                path: path.clone(),
            }),
            Some(Err(e)) => Err(e),
            _ => Err(DeError::invalid(&path, "expected a structure")),
        }
        .map_err(|e: DeError| e.at(&path))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        use serde_json::Value;
        let path = self.path;
        match self.val {
            Val::Leaf(s) => visitor
                .visit_enum(s.into_deserializer())
                .map_err(|e: DeError| e.at(&path)),
            Val::Json(Value::String(s)) => visitor
                .visit_enum(s.into_deserializer())
                .map_err(|e: DeError| e.at(&path)),
            Val::Json(value) => de::Deserializer::deserialize_enum(value, name, variants, visitor)
                .map_err(|e| DeError::invalid(&path, e)),
            Val::Tree(_) => Err(DeError::invalid(
                &path,
                "expected one of the documented values, got a structure",
            )),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

/// A list from `Name.N` children, in index order (gaps tolerated, index 0 rejected).
fn tree_seq<'a>(children: &'a BTreeMap<String, Node>, path: &str) -> Result<TreeSeq<'a>, DeError> {
    if children.len() > MAX_LIST_ITEMS {
        return Err(too_many_items(path));
    }
    let mut items = Vec::with_capacity(children.len());
    for (key, node) in children {
        let child_path = join(path, key);
        if key.is_empty() || key.len() > 9 || !key.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DeError::invalid(&child_path, "expected a list index"));
        }
        let index: u32 = key
            .parse()
            .map_err(|_| DeError::invalid(&child_path, "expected a list index"))?;
        if index == 0 {
            return Err(DeError::invalid(&child_path, "list indexes start at 1"));
        }
        items.push((index, child_path, node));
    }
    items.sort_by_key(|(index, _, _)| *index);
    Ok(TreeSeq {
        items: items.into_iter(),
    })
}

struct TreeSeq<'a> {
    items: std::vec::IntoIter<(u32, String, &'a Node)>,
}

impl<'de, 'a> de::SeqAccess<'de> for TreeSeq<'a> {
    type Error = DeError;
    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, DeError> {
        match self.items.next() {
            Some((_, path, node)) => seed
                .deserialize(De::node(node, path.clone()))
                .map(Some)
                .map_err(|e| e.at(&path)),
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

fn json_seq<'de, V: Visitor<'de>>(
    value: serde_json::Value,
    path: &str,
    visitor: V,
) -> Result<V::Value, DeError> {
    match value {
        serde_json::Value::Array(items) if items.len() > MAX_LIST_ITEMS => {
            Err(too_many_items(path))
        }
        serde_json::Value::Array(items) => visitor.visit_seq(JsonSeq {
            iter: items.into_iter().enumerate(),
            path: path.to_owned(),
        }),
        _ => Err(DeError::invalid(path, "expected a JSON list")),
    }
}

fn too_many_items(path: &str) -> DeError {
    DeError::invalid(path, format!("at most {MAX_LIST_ITEMS} items"))
}

struct JsonSeq {
    iter: std::iter::Enumerate<std::vec::IntoIter<serde_json::Value>>,
    path: String,
}

impl<'de> de::SeqAccess<'de> for JsonSeq {
    type Error = DeError;
    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, DeError> {
        match self.iter.next() {
            Some((i, value)) => {
                let path = join(&self.path, &(i + 1).to_string());
                seed.deserialize(De {
                    val: Val::Json(value),
                    path: path.clone(),
                })
                .map(Some)
                .map_err(|e| e.at(&path))
            }
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// A list of one: a plain value where a list is expected.
struct OneSeq<'a>(Option<De<'a>>);

impl<'de, 'a> de::SeqAccess<'de> for OneSeq<'a> {
    type Error = DeError;
    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, DeError> {
        match self.0.take() {
            Some(de) => seed.deserialize(de).map(Some),
            None => Ok(None),
        }
    }
}

struct TreeMap<'a> {
    iter: std::collections::btree_map::Iter<'a, String, Node>,
    value: Option<(&'a String, &'a Node)>,
    path: String,
}

impl<'a> TreeMap<'a> {
    fn new(children: &'a BTreeMap<String, Node>, path: String) -> Self {
        TreeMap {
            iter: children.iter(),
            value: None,
            path,
        }
    }
}

impl<'de, 'a> de::MapAccess<'de> for TreeMap<'a> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((key, node)) => {
                self.value = Some((key, node));
                let key_de: de::value::StrDeserializer<'_, DeError> =
                    key.as_str().into_deserializer();
                seed.deserialize(key_de)
                    .map(Some)
                    .map_err(|e: DeError| e.at(&join(&self.path, key)))
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, DeError> {
        match self.value.take() {
            Some((key, node)) => {
                let path = join(&self.path, key);
                seed.deserialize(De::node(node, path.clone()))
                    .map_err(|e| e.at(&path))
            }
            None => Err(DeError::invalid(&self.path, "value without a name")),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct JsonMap {
    iter: serde_json::map::IntoIter,
    value: Option<(String, serde_json::Value)>,
    path: String,
}

impl<'de> de::MapAccess<'de> for JsonMap {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((key, value)) => {
                let path = join(&self.path, &key);
                let key_de: de::value::StrDeserializer<'_, DeError> =
                    key.as_str().into_deserializer();
                let out = seed.deserialize(key_de).map_err(|e: DeError| e.at(&path))?;
                self.value = Some((key, value));
                Ok(Some(out))
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, DeError> {
        match self.value.take() {
            Some((key, value)) => {
                let path = join(&self.path, &key);
                seed.deserialize(De {
                    val: Val::Json(value),
                    path: path.clone(),
                })
                .map_err(|e| e.at(&path))
            }
            None => Err(DeError::invalid(&self.path, "value without a name")),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}
