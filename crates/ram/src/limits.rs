//! The bounds of a policy document, checked while parsing.

/// RAM's limit on a policy document, counted in bytes of the text as given.
pub const MAX_DOCUMENT_BYTES: usize = 6144;
/// Statements in one document. RAM states no separate limit (the size limit bounds it); 100 is
/// more than any document of 6144 bytes sensibly holds and bounds the work of one evaluation.
pub const MAX_STATEMENTS: usize = 100;
/// One action, resource, principal or condition value.
pub const MAX_PATTERN_BYTES: usize = 1024;
