//! Why a policy document was refused. The message goes back to API callers as the message of
//! `MalformedPolicyDocument`, so it is short and repeats nothing of the document but the index of
//! the statement at fault (counted from 0, as in `Statement[0]`).

use crate::limits::{MAX_DOCUMENT_BYTES, MAX_PATTERN_BYTES, MAX_STATEMENTS};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("The policy document is longer than {MAX_DOCUMENT_BYTES} bytes.")]
    TooLong,
    #[error("The policy document is not valid JSON.")]
    NotJson,
    #[error("The policy document must be a JSON object.")]
    NotAnObject,
    #[error("The policy document has an unknown element.")]
    UnknownElement,
    #[error("Version must be \"1\".")]
    InvalidVersion,
    #[error("The policy document has no Statement.")]
    MissingStatement,
    #[error("Statement must be a statement object or a non-empty list of them.")]
    InvalidStatement,
    #[error("The policy document has more than {MAX_STATEMENTS} statements.")]
    TooManyStatements,
    #[error("Statement[{statement}]: a statement must be a JSON object.")]
    StatementNotAnObject { statement: usize },
    #[error("Statement[{statement}]: the statement has an unknown element.")]
    UnknownStatementElement { statement: usize },
    #[error("Statement[{statement}]: Sid must be a string.")]
    InvalidSid { statement: usize },
    #[error("Statement[{statement}]: Effect is missing.")]
    MissingEffect { statement: usize },
    #[error("Statement[{statement}]: Effect must be \"Allow\" or \"Deny\".")]
    InvalidEffect { statement: usize },
    #[error("Statement[{statement}]: one of Action or NotAction is required.")]
    MissingAction { statement: usize },
    #[error("Statement[{statement}]: Action and NotAction cannot both be given.")]
    BothActionAndNotAction { statement: usize },
    #[error(
        "Statement[{statement}]: an action must be \"*\" or \"<service>:<action>\", as a string or a non-empty list of strings."
    )]
    InvalidAction { statement: usize },
    #[error("Statement[{statement}]: one of Resource or NotResource is required.")]
    MissingResource { statement: usize },
    #[error("Statement[{statement}]: Resource and NotResource cannot both be given.")]
    BothResourceAndNotResource { statement: usize },
    #[error(
        "Statement[{statement}]: a resource must be \"*\" or \"acs:<service>:<region>:<account>:<resource>\", as a string or a non-empty list of strings."
    )]
    InvalidResource { statement: usize },
    #[error("Statement[{statement}]: Resource is not allowed in a trust policy.")]
    ResourceNotAllowed { statement: usize },
    #[error("Statement[{statement}]: Principal is only allowed in a role's trust policy.")]
    PrincipalNotAllowed { statement: usize },
    #[error("Statement[{statement}]: Principal is missing.")]
    MissingPrincipal { statement: usize },
    #[error(
        "Statement[{statement}]: Principal must be \"*\" or an object of \"RAM\", \"Service\" or \"Federated\" to a string or a non-empty list of strings."
    )]
    InvalidPrincipal { statement: usize },
    #[error("Statement[{statement}]: a pattern or value is longer than {MAX_PATTERN_BYTES} bytes.")]
    TooLongValue { statement: usize },
    #[error(
        "Statement[{statement}]: Condition must map operators to objects of keys to a value or a non-empty list of values."
    )]
    InvalidCondition { statement: usize },
    #[error("Statement[{statement}]: Condition has an unknown operator.")]
    UnknownOperator { statement: usize },
    #[error("Statement[{statement}]: a value of {operator} is not valid for the operator.")]
    InvalidConditionValue {
        statement: usize,
        operator: &'static str,
    },
}
