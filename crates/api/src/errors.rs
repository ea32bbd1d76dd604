//! Every error code the POP surface answers, with its HTTP status and message, in one table:
//! handlers build their errors from these constants, `docs/errors.md` is generated from [`ALL`]
//! (and checked against it by a test), and a test refuses an `ApiError::new` anywhere else in
//! this crate. The protocol's own codes are built by `pop` (it has no product knowledge); they
//! are listed here too, and a test holds `pop`'s constructors to their rows.

use std::fmt::{Display, Write};

use pop::ApiError;
use store::StoreError;

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    pub code: &'static str,
    pub status: u16,
    /// The message; each `{}` stands for the next argument of [`ErrorCode::error`].
    pub message: &'static str,
    /// When it is answered, for `docs/errors.md`.
    pub when: &'static str,
}

impl ErrorCode {
    /// The error with `args` put in the message's `{}` in turn.
    pub fn error(&self, args: &[&dyn Display]) -> ApiError {
        let mut message = String::with_capacity(self.message.len() + 32);
        let mut args = args.iter();
        let mut parts = self.message.split("{}").peekable();
        while let Some(part) = parts.next() {
            message.push_str(part);
            if parts.peek().is_some() {
                match args.next() {
                    Some(arg) => {
                        let _ = write!(message, "{arg}");
                    }
                    None => message.push('?'),
                }
            }
        }
        ApiError::new(self.status, self.code, message)
    }
}

macro_rules! table {
    ($($name:ident: $code:literal, $status:literal, $message:literal, $when:literal;)*) => {
        $(pub const $name: ErrorCode = ErrorCode {
            code: $code,
            status: $status,
            message: $message,
            when: $when,
        };)*
        /// Every row, in the order of `docs/errors.md`.
        pub static ALL: &[ErrorCode] = &[$($name),*];
    };
}

table! {
    // -- the protocol (built by `pop`)
    MISSING_PARAMETER: "MissingParameter", 400,
        "The input parameter \"{}\" that is mandatory for processing this request is not supplied.",
        "A required parameter is absent (or empty where it must not be).";
    INVALID_PARAMETER: "InvalidParameter", 400,
        "The specified parameter \"{}\" is not valid: {}",
        "A parameter does not parse, is out of its bounds or names something of the wrong kind; the message names the wire path (`Tag.2.Value`).";
    INCOMPLETE_SIGNATURE: "IncompleteSignature", 400,
        "The request signature does not conform to Aliyun standards: {}",
        "No signature, a malformed `Authorization`, or headers that must be signed are not.";
    SIGNATURE_DOES_NOT_MATCH: "SignatureDoesNotMatch", 400,
        "Specified signature is not matched with our calculation. server string to sign is:{}",
        "The signature is not the one the secret gives, or the body is not the one whose hash was signed.";
    SIGNATURE_NONCE_USED: "SignatureNonceUsed", 400,
        "Specified signature nonce was used already.",
        "A replay: the nonce was seen with this key while the timestamp is still accepted.";
    TIMESTAMP_EXPIRED: "InvalidTimeStamp.Expired", 400,
        "Specified time stamp or date value is expired.",
        "The request's timestamp is more than 15 minutes from the server's clock.";
    TIMESTAMP_FORMAT: "InvalidTimeStamp.Format", 400,
        "Specified time stamp or date value is not well formatted.",
        "`x-acs-date` / `Timestamp` is not `yyyy-MM-ddTHH:mm:ssZ`.";
    ACCESS_KEY_NOT_FOUND: "InvalidAccessKeyId.NotFound", 404,
        "Specified access key is not found.",
        "The access key id is unknown.";
    ACCESS_KEY_INACTIVE: "InvalidAccessKeyId.Inactive", 400,
        "Specified access key is disabled.",
        "The access key exists but is disabled.";
    ACTION_NOT_FOUND: "InvalidAction.NotFound", 404,
        "Specified api is not found, please check your url and method.",
        "An action the version does not have, or a path other than `/`.";
    INVALID_VERSION: "InvalidVersion", 400,
        "Specified parameter Version is not valid.",
        "A version of no product amc serves.";
    INTERNAL_ERROR: "InternalError", 500,
        "The request processing has failed due to some unknown error, exception or failure.",
        "A fault of amc or its database; the detail is in the server's log only.";

    // -- the pipeline
    SECURITY_TOKEN_MISMATCH: "InvalidSecurityToken.MismatchWithAccessKey", 400,
        "The security token does not belong to the access key.",
        "A `SecurityToken` / `x-acs-security-token` comes with a long-term access key, or is not the one issued with a temporary key.";
    SECURITY_TOKEN_EXPIRED: "InvalidSecurityToken.Expired", 400,
        "Specified SecurityToken is expired.",
        "A temporary (`STS.`) key is used after its `Expiration`.";
    MISSING_SECURITY_TOKEN: "MissingSecurityToken", 400,
        "SecurityToken is mandatory for this access key.",
        "A temporary (`STS.`) key signs without the security token issued with it.";
    FORBIDDEN_RAM: "Forbidden.RAM", 403,
        "User not authorized to operate on the specified resource: {} on {}.",
        "The policies of a RAM user or role session do not allow the action on a resource it touches (the first refused one is named); `AccessDeniedDetail` says why.";
    UNSUPPORTED_OPERATION: "UnsupportedOperation", 501,
        "The action {} of version {} is not served by this amc release.",
        "An action of the spec amc does not serve yet (docs/compatibility.md).";
    METHOD_NOT_ALLOWED: "UnsupportedHTTPMethod", 405,
        "The endpoint accepts GET and POST only.",
        "A method other than GET or POST on `/`.";
    OPERATION_CONFLICT: "OperationConflict", 409,
        "Request was denied due to conflict with a previous request.",
        "Concurrent calls changed the same records and the change could not be applied after retrying; send it again.";

    // -- the HTTP stack (`web::Failure`)
    MALFORMED_REQUEST: "MalformedRequest", 400,
        "The request is not well-formed HTTP/1.1 (request line, a header, Content-Length or the body's framing).",
        "HTTP/1.1 that cannot be parsed.";
    URI_TOO_LONG: "UriTooLong", 414,
        "The request URI is too long.",
        "A request target over 64 KiB.";
    HEADERS_TOO_LARGE: "RequestHeaderFieldsTooLarge", 431,
        "The request has too many headers, or headers too large.",
        "More than 100 headers, or a head over hyper's buffer.";
    BODY_TOO_LARGE: "RequestEntityTooLarge", 413,
        "The request body exceeds {} bytes.",
        "A body over 8 MiB (refused before it is read when `Content-Length` says so).";
    BODY_TIMEOUT: "RequestTimeout", 408,
        "The request body did not arrive in time.",
        "The body did not arrive within `--body-timeout-secs`.";
    INVALID_REQUEST: "InvalidRequest", 400,
        "The request cannot be served as sent.",
        "The router refused the request without a body of its own; the HTTP status is the router's.";
    THROTTLING_USER: "Throttling.User", 400,
        "Request was denied due to user flow control.",
        "More than `--api-rate-limit` calls in one second signed by one access key (on PostgreSQL, counted across replicas); `x-acs-retry-after` says when the next second starts.";
    SERVICE_UNAVAILABLE: "ServiceUnavailable", 503,
        "The request has failed due to a temporary failure of the server.",
        "No room for another connection (`--max-connections`) or body (`--body-budget-mib`).";

    // -- desktops and the catalogue (ecd 2020-09-30)
    DESKTOP_NOT_FOUND: "InvalidDesktopId.NotFound", 404,
        "The specified desktop {} is not found.",
        "A desktop id that is not the caller's (or not in the region given).";
    INCORRECT_DESKTOP_STATUS: "IncorrectDesktopStatus", 400,
        "The current status of the desktop does not support this operation: {}.",
        "The operation may not begin from the desktop's status, or another operation is under way.";
    BUNDLE_NOT_FOUND: "InvalidBundleId.NotFound", 404,
        "The specified bundle {} is not found.",
        "A bundle id the catalogue does not have.";
    IMAGE_NOT_FOUND: "InvalidImageId.NotFound", 404,
        "The specified image {} is not found.",
        "An image id the catalogue does not have.";

    // -- agent runtimes, model groups, channels (appstream-center 2021-09-01)
    RUNTIME_NOT_FOUND: "InvalidRuntimeId.NotFound", 404,
        "The specified runtime {} does not exist.",
        "A runtime id that is not the caller's.";
    AGENT_PROVIDER_MISMATCH: "InvalidAgentProvider.Mismatch", 400,
        "The runtime {} runs {}, not the AgentProvider {}.",
        "The AgentProvider given is not the runtime's.";
    AGENT_PLATFORM_MISMATCH: "InvalidAgentPlatform.Mismatch", 400,
        "The runtime {} is on platform {}, not the AgentPlatform {}.",
        "The AgentPlatform given is not the runtime's.";
    MODEL_TEMPLATE_NOT_FOUND: "InvalidModelTemplateId.NotFound", 404,
        "The specified model template {} is not found.",
        "A model group id that is not the caller's.";
    PROVIDER_TEMPLATE_NOT_FOUND: "InvalidProviderTemplateId.NotFound", 404,
        "The specified model provider template {} is not found.",
        "A provider template id that is not the caller's (or not of the model group given).";
    LLM_TEMPLATE_NOT_FOUND: "InvalidLlmTemplateId.NotFound", 404,
        "The specified LLM template {} is not found.",
        "An LLM template id that is not the caller's.";
    PROVIDER_NAME_EXISTS: "ProviderName.AlreadyExists", 400,
        "The model template already has a provider named {}.",
        "A second provider of the same ProviderName in one model group.";
    MODEL_TEMPLATE_NOT_BOUND: "ModelTemplate.NotBound", 400,
        "The model template {} is not bound to the resource group {}.",
        "RemoveResourceGroupModelTemplate of a group the model group is not bound to (per item).";

    // -- resource groups (resourcemanager 2020-03-31)
    RESOURCE_GROUP_NOT_FOUND: "EntityNotExists.ResourceGroup", 404,
        "The specified resource group {} (ResourceGroupId) does not exist.",
        "A resource group id that is not the caller's, wherever one is taken.";
    RESOURCE_GROUP_NAME_EXISTS: "NameAlreadyExists.ResourceGroup", 400,
        "A resource group named {} (Name) already exists in this account.",
        "CreateResourceGroup with a Name the account already has.";
    DEPENDENCY_RUNTIMES: "DependencyViolation.Runtimes", 400,
        "model template {} is still assigned to {} runtime(s)",
        "DeleteModelTemplate of a group runtimes still use.";
    DEPENDENCY_RESOURCE_GROUPS: "DependencyViolation.ResourceGroups", 400,
        "model template {} is still assigned to {} resource group(s)",
        "DeleteModelTemplate of a group still bound to resource groups.";
    DEPENDENCY_PROVIDER_TEMPLATES: "DependencyViolation.ProviderTemplates", 400,
        "model template {} still has {} provider template(s); delete them first",
        "DeleteModelTemplate of a group that still has providers.";
    DEPENDENCY_LLM_TEMPLATES: "DependencyViolation.LlmTemplates", 400,
        "provider {} still has {} model(s); delete them first",
        "DeleteModelProviderTemplate of a provider that still has models.";
    RUNTIME_ITEM_NOT_FOUND: "Runtime.NotFound", 404,
        "The runtime {} is not found.",
        "Per item of Config/RemoveRuntimeModelTemplate: a runtime that is not the caller's, or deleted.";
    RUNTIME_ITEM_PROVIDER_MISMATCH: "Runtime.AgentProviderMismatch", 400,
        "The runtime {} runs {}; the model template is for {}.",
        "Per item of ConfigRuntimeModelTemplate: the runtime runs another agent product.";
    RUNTIME_ITEM_NOT_ASSIGNED: "Runtime.ModelTemplateNotAssigned", 400,
        "The model template {} is not assigned to the runtime {}.",
        "Per item of RemoveRuntimeModelTemplate: the runtime has another (or no) model group of its own.";

    // -- office sites and regions (ecd 2020-09-30)
    OFFICE_SITE_NOT_FOUND: "InvalidOfficeSiteId.NotFound", 404,
        "The specified office site {} (OfficeSiteId) is not found in this region.",
        "An office site id that is not the caller's in the region given (amc's code).";
    OFFICE_SITE_NOT_EMPTY: "DependencyViolation.Desktops", 400,
        "The office site {} still holds {} desktop(s); delete them (DeleteDesktops) before the office site.",
        "DeleteOfficeSites of a site that still holds desktops (amc's code).";
    REGION_NOT_FOUND: "InvalidRegionId.NotFound", 404,
        "The region {} (RegionId) is not served here; DescribeRegions lists the regions.",
        "CreateSimpleOfficeSite in a region the catalogue does not serve.";

    RESOURCE_GROUP_NOT_EMPTY: "DeleteConflict.ResourceGroup.Resource", 400,
        "The resource group {} still holds {} runtime(s); move them to another group (MoveResources) or delete them first.",
        "DeleteResourceGroup of a group that still holds runtimes.";

    // -- model credits (wss 2021-12-21)
    AGENT_NOT_FOUND: "InvalidAgentId.NotFound", 404,
        "The specified agent {} does not exist.",
        "An AgentId (a runtime id) that is not the caller's.";
    CREDIT_PACKAGE_NOT_FOUND: "InvalidInstanceId.NotFound", 404,
        "The specified credit package {} does not exist.",
        "A credit package instance id (`cp-inst-…`) that is not the caller's.";

    // -- the skill center (ecd 2021-06-02)
    SKILL_NOT_FOUND: "InvalidSkillId.NotFound", 404,
        "The specified skill {} does not exist.",
        "A skill id that is not the caller's; a batch naming one is refused whole.";
    PARSE_TASK_NOT_FOUND: "InvalidTaskKey.NotFound", 404,
        "The specified parse task {} does not exist.",
        "A TaskKey that is not one of the caller's parse tasks.";
    PARSE_TASK_NOT_COMPLETED: "TaskKey.NotCompleted", 400,
        "The parse task {} is {}: only a COMPLETED task makes a skill.",
        "CreateTenantSkill from a task still parsing, or one that failed.";
    SKILL_VERSION_EXISTS: "SkillVersion.AlreadyExists", 400,
        "The skill {} already has version {}.",
        "CreateTenantSkill of a slug the tenant has, with a version it already has.";

    // -- identities and policies (ram 2015-05-01, sts 2015-04-01)
    USER_EXISTS: "EntityAlreadyExists.User", 409,
        "The user {} already exists.",
        "CreateUser (or UpdateUser's NewUserName) of a name the account has.";
    USER_NOT_FOUND: "EntityNotExist.User", 404,
        "The user {} does not exist.",
        "A UserName that is not one of the account's RAM users.";
    ACCESS_KEY_OF_USER_NOT_FOUND: "EntityNotExist.User.AccessKey", 404,
        "The access key {} does not exist.",
        "A UserAccessKeyId that is not a key of the user named (or of the root, without UserName).";
    ACCESS_KEY_LIMIT: "LimitExceeded.User.AccessKey", 409,
        "The user already holds {} access keys; delete one first.",
        "CreateAccessKey for a user (or root) that holds two keys.";
    USER_HAS_KEYS: "DeleteConflict.User.AccessKey", 409,
        "The user {} still has access keys; delete them first.",
        "DeleteUser of a user holding keys.";
    USER_HAS_POLICIES: "DeleteConflict.User.Policy", 409,
        "The user {} still has policies attached; detach them first.",
        "DeleteUser of a user holding policies.";
    POLICY_EXISTS: "EntityAlreadyExists.Policy", 409,
        "The policy {} already exists.",
        "CreatePolicy of a name the account has (or a system policy's).";
    POLICY_NOT_FOUND: "EntityNotExist.Policy", 404,
        "The policy {} of type {} does not exist.",
        "A PolicyName that is no custom policy of the account (PolicyType Custom) or no system policy (System).";
    MALFORMED_POLICY: "MalformedPolicyDocument", 400,
        "The policy document is malformed: {}",
        "A PolicyDocument, AssumeRolePolicyDocument or session Policy that is not valid policy JSON; the message says where.";
    USER_POLICY_EXISTS: "EntityAlreadyExists.User.Policy", 409,
        "The policy {} is already attached to the user {}.",
        "Attaching a policy twice to the same user.";
    USER_POLICY_NOT_FOUND: "EntityNotExist.User.Policy", 404,
        "The policy {} is not attached to the user {}.",
        "Detaching from a user a policy it does not hold.";
    ROLE_POLICY_EXISTS: "EntityAlreadyExists.Role.Policy", 409,
        "The policy {} is already attached to the role {}.",
        "Attaching a policy twice to the same role.";
    ROLE_POLICY_NOT_FOUND: "EntityNotExist.Role.Policy", 404,
        "The policy {} is not attached to the role {}.",
        "Detaching from a role a policy it does not hold.";
    POLICY_IN_USE: "DeleteConflict.Policy.User", 409,
        "The policy {} is still attached; detach it first or delete with CascadingDelete.",
        "DeletePolicy of an attached policy without CascadingDelete.";
    POLICY_HAS_VERSIONS: "DeleteConflict.Policy.Version", 409,
        "The policy {} still has versions besides its default; delete them first or delete with CascadingDelete.",
        "DeletePolicy of a policy holding more than its default version, without CascadingDelete.";
    POLICY_VERSION_LIMIT: "LimitExceeded.Policy.Version", 409,
        "The policy {} already holds {} versions; delete one or give RotateStrategy.",
        "CreatePolicyVersion on a policy holding five versions, without RotateStrategy.";
    POLICY_VERSION_NOT_FOUND: "EntityNotExist.Policy.Version", 404,
        "The policy {} has no version {}.",
        "A VersionId the policy does not hold.";
    DEFAULT_VERSION_IN_USE: "DeleteConflict.PolicyVersion.Default", 409,
        "The version {} is the policy's default; make another version the default first.",
        "DeletePolicyVersion of the default version.";
    SYSTEM_POLICY_READ_ONLY: "NoPermission.SystemPolicy", 403,
        "The system policy {} cannot be changed.",
        "Creating versions of, or deleting, a system policy.";
    ROLE_EXISTS: "EntityAlreadyExists.Role", 409,
        "The role {} already exists.",
        "CreateRole of a name the account has.";
    ROLE_NOT_FOUND: "EntityNotExist.Role", 404,
        "The role {} does not exist.",
        "A RoleName (or the role of a RoleArn) that is not one of the account's roles.";
    ROLE_HAS_POLICIES: "DeleteConflict.Role.Policy", 409,
        "The role {} still has policies attached; detach them first.",
        "DeleteRole of a role holding policies.";
    DIAGNOSTIC_INVALID: "InvalidParameter.EncodedDiagnosticMessage", 400,
        "The diagnostic message is not one this account can decode.",
        "DecodeDiagnosticMessage of a message not issued to the caller's account.";
    ASSUME_ROLE_REFUSED: "NoPermission", 403,
        "You are not authorized to do this action. You should be authorized by RAM.",
        "AssumeRole of a role whose trust policy does not trust the caller.";
}

/// Logs the detail and answers the opaque `InternalError`.
pub(crate) fn internal(error: impl Display) -> ApiError {
    tracing::error!(%error, "internal error");
    INTERNAL_ERROR.error(&[])
}

/// The answer to a failed store call. Contention the store could not resolve by running its
/// transaction again is the cloud's `OperationConflict` (409: the client may retry), never a
/// 5xx; everything else is `InternalError`, its detail in the log only.
pub(crate) fn store_failure(error: StoreError) -> ApiError {
    match error {
        StoreError::Contended(_) => {
            tracing::warn!(%error, "request refused for contention");
            OPERATION_CONFLICT.error(&[])
        }
        other => internal(other),
    }
}

/// `docs/errors.md` as the table gives it.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Error codes\n\n\
         Every error code amc's POP API answers, with its HTTP status and message (`{}` stands for \
         a detail of the call). The body is always `{RequestId, HostId, Code, Message, Recommend}`.\n\
         Generated from `crates/api/src/errors.rs` (`AMC_BLESS=1 cargo test -p api errors_doc` \
         rewrites it; the test fails when it is out of date).\n\n\
         | code | HTTP | message | when |\n|---|---|---|---|\n",
    );
    for row in ALL {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            row.code,
            row.status,
            row.message.replace('|', "\\|"),
            row.when.replace('|', "\\|")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_fill_the_message_in_turn() {
        let error = AGENT_PROVIDER_MISMATCH.error(&[&"ecd-1", &"OpenClaw", &"HermesAgent"]);
        assert_eq!(error.code, "InvalidAgentProvider.Mismatch");
        assert_eq!(error.status, 400);
        assert_eq!(
            error.message,
            "The runtime ecd-1 runs OpenClaw, not the AgentProvider HermesAgent."
        );
        assert_eq!(
            DESKTOP_NOT_FOUND.error(&[]).message,
            "The specified desktop ? is not found."
        );
    }

    #[test]
    fn codes_are_unique() {
        let mut codes: Vec<&str> = ALL.iter().map(|row| row.code).collect();
        codes.sort_unstable();
        let before = codes.len();
        codes.dedup();
        assert_eq!(before, codes.len(), "a code appears twice in the table");
    }

    #[test]
    fn the_protocol_codes_of_pop_are_rows_of_the_table() {
        for error in [
            ApiError::missing_parameter("X"),
            ApiError::invalid_parameter("X", "y"),
            ApiError::incomplete_signature("y"),
            ApiError::signature_does_not_match("s"),
            ApiError::signature_nonce_used(),
            ApiError::timestamp_expired(),
            ApiError::timestamp_format(),
            ApiError::access_key_not_found(),
            ApiError::access_key_inactive(),
            ApiError::action_not_found(),
            ApiError::invalid_version(),
            ApiError::internal(),
        ] {
            let row = ALL.iter().find(|row| row.code == error.code);
            assert_eq!(
                row.map(|row| row.status),
                Some(error.status),
                "{} is not in the table with status {}",
                error.code,
                error.status
            );
        }
    }

    #[test]
    fn errors_doc() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/errors.md");
        let generated = markdown();
        if std::env::var_os("AMC_BLESS").is_some() {
            std::fs::write(path, &generated).unwrap_or_else(|e| panic!("writing {path}: {e}"));
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "docs/errors.md is out of date: run `AMC_BLESS=1 cargo test -p api errors_doc`"
        );
    }

    /// Errors are built from the table only: an `ApiError::new` elsewhere in this crate is a code
    /// the table (and the docs) would not know.
    #[test]
    fn no_error_is_built_outside_the_table() {
        fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("errors.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    let needle = concat!("ApiError", "::new(");
                    for (number, line) in text.lines().enumerate() {
                        if line.contains(needle) {
                            found.push(format!("{}:{}", path.display(), number + 1));
                        }
                    }
                }
            }
        }
        let mut found = Vec::new();
        walk(
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")),
            &mut found,
        );
        assert!(
            found.is_empty(),
            "errors built outside the table: {found:?}"
        );
    }

    #[test]
    fn contention_is_a_conflict_and_nothing_else_is() {
        // issue 11: contention
        let conflict = store_failure(StoreError::Contended(5));
        assert_eq!(
            (
                conflict.status,
                conflict.code.as_ref(),
                conflict.message.as_str()
            ),
            (
                409,
                "OperationConflict",
                "Request was denied due to conflict with a previous request."
            )
        );
        let corrupt = store_failure(StoreError::Corrupt("config of mt-1".into()));
        assert_eq!(
            (corrupt.status, corrupt.code.as_ref()),
            (500, "InternalError")
        );
        assert!(
            !corrupt.message.contains("mt-1"),
            "the detail stays in the log"
        );
    }
}
