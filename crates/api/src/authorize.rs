//! The one authorisation step every action passes. The account's root keys may do everything in
//! their own tenant (tenants are kept apart by scoping every query to the key's tenant); a RAM
//! user's key and a role session's temporary key may do what their policies allow: the action's
//! RAM name on every resource the call touches, under the request's conditions. Explicit deny
//! wins, then allow; anything else is denied.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pop::{AccessDeniedDetail, ApiError, FlatParams};
use ram::{Context, Decision, Policy, Request};
use store::ram::{Attachment, Grantee, PolicyKind};
use store::tenants::{AccessKey, KeyPrincipal};

use crate::AppState;
use crate::actions::ActionEntry;
use crate::context::Facts;
use crate::diagnosis::{Diagnosis, MatchedPolicy};
use crate::errors::{self, store_failure};
use crate::principal::Principal;
use crate::resources::{self, Touched};

/// How long policies read for a principal are used before they are read again, when no write
/// of this process changed RAM (writes of other replicas show within this time).
const POLICY_TTL: Duration = Duration::from_secs(10);

/// A policy as authorisation holds it: compiled, with the names a diagnosis reports.
#[derive(Debug)]
pub(crate) struct Held {
    pub policy: Policy,
    pub kind: PolicyKind,
    pub name: String,
    pub version: String,
}

/// The compiled policies of one principal.
#[derive(Debug, Default)]
pub(crate) struct PolicySet {
    pub held: Vec<Held>,
}

/// Compiled policy sets by (tenant, `User`/`Role`, name), with when and at which RAM
/// generation they were read.
#[derive(Default)]
pub struct PolicyCache(Mutex<HashMap<(String, &'static str, String), CachedSet>>);

struct CachedSet {
    read_at: Instant,
    generation: u64,
    set: Arc<PolicySet>,
}

impl PolicyCache {
    fn get(&self, key: &(String, &'static str, String), generation: u64) -> Option<Arc<PolicySet>> {
        let cache = self.0.lock().ok()?;
        cache
            .get(key)
            .filter(|c| c.generation == generation && c.read_at.elapsed() < POLICY_TTL)
            .map(|c| c.set.clone())
    }

    fn put(&self, key: (String, &'static str, String), generation: u64, set: Arc<PolicySet>) {
        if let Ok(mut cache) = self.0.lock() {
            if cache.len() >= 10_000 {
                cache.clear();
            }
            cache.insert(
                key,
                CachedSet {
                    read_at: Instant::now(),
                    generation,
                    set,
                },
            );
        }
    }
}

/// Compiles what is attached to a principal. A stored document that no longer parses (it was
/// checked when written) grants nothing, and says so in the log.
fn compile(attachments: Vec<Attachment>) -> PolicySet {
    let mut held = Vec::with_capacity(attachments.len());
    for attachment in attachments {
        let (policy, version) = match &attachment.custom {
            Some(custom) => match Policy::parse(&custom.document) {
                Ok(policy) => (policy, custom.default_version.clone()),
                Err(error) => {
                    tracing::error!(policy = %attachment.policy_name, %error, "a stored policy does not parse");
                    continue;
                }
            },
            None => match ram::system::system_policy_compiled(&attachment.policy_name) {
                Some(policy) => (policy.clone(), "v1".to_string()),
                None => continue,
            },
        };
        held.push(Held {
            policy,
            kind: attachment.policy_kind,
            name: attachment.policy_name,
            version,
        });
    }
    PolicySet { held }
}

/// The compiled policies attached to `grantee`.
async fn policies_of(
    state: &AppState,
    tenant_id: &str,
    grantee: Grantee<'_>,
) -> Result<Arc<PolicySet>, ApiError> {
    let (kind, name) = match grantee {
        Grantee::User(name) => ("User", name),
        Grantee::Role(name) => ("Role", name),
    };
    let key = (tenant_id.to_string(), kind, name.to_string());
    let generation = state.store.ram_generation();
    if let Some(set) = state.policies.get(&key, generation) {
        return Ok(set);
    }
    let attachments = state
        .store
        .attachments(tenant_id, grantee)
        .await
        .map_err(store_failure)?;
    let set = Arc::new(compile(attachments));
    state.policies.put(key, generation, set.clone());
    Ok(set)
}

/// Checks a call of `entry` with `params` by `key`.
pub(crate) async fn authorize(
    state: &AppState,
    key: &AccessKey,
    entry: &ActionEntry,
    params: &FlatParams,
    touched: &[Touched],
    facts: Facts,
) -> Result<(), ApiError> {
    let Some(principal) = Principal::of(key) else {
        return Ok(());
    };
    if entry.ram_service() == "sts" && entry.name == "GetCallerIdentity" {
        // Anyone may learn who they are, as in the cloud.
        return Ok(());
    }
    let action = entry.ram_action();
    let resources = resources::arns(entry, params, touched, &key.tenant_id);
    check(state, &principal, &action, &resources, facts).await
}

/// Whether `principal` may do `action` on every one of `resources`.
async fn check(
    state: &AppState,
    principal: &Principal<'_>,
    action: &str,
    resources: &[String],
    facts: Facts,
) -> Result<(), ApiError> {
    let key = principal.key;
    let context = Context {
        source_ip: facts.source_ip,
        secure_transport: facts.secure_transport,
        current_time: facts.now,
        mfa_present: false,
        access_id: Some(&key.id),
        principal_arn: Some(&principal.arn),
    };
    let request = Request {
        action,
        resources,
        context: &context,
    };
    let (set, attached_to, session_policy) = match &key.principal {
        KeyPrincipal::Root => return Ok(()),
        KeyPrincipal::User { name } => (
            policies_of(state, &key.tenant_id, Grantee::User(name)).await?,
            "User",
            None,
        ),
        KeyPrincipal::Session(session) => {
            let session_policy = match &session.policy {
                Some(document) => Some(Policy::parse(document).map_err(|error| {
                    tracing::error!(%error, "a stored session policy does not parse");
                    errors::INTERNAL_ERROR.error(&[])
                })?),
                None => None,
            };
            (
                policies_of(state, &key.tenant_id, Grantee::Role(&session.role_name)).await?,
                "Role",
                session_policy,
            )
        }
    };
    let policies: Vec<&Policy> = set.held.iter().map(|h| &h.policy).collect();
    let decision = ram::evaluate(&policies, &request);
    let refusal = match decision {
        Decision::Allow => match &session_policy {
            None => return Ok(()),
            Some(session) => match ram::evaluate(&[session], &request) {
                Decision::Allow => return Ok(()),
                Decision::ExplicitDeny { resource, .. } => Refusal {
                    resource,
                    explicit: true,
                    policy_type: "SessionPolicy",
                    matched: Some(MatchedPolicy {
                        policy_identifier: "session".into(),
                        policy_type: "Session".into(),
                        policy_version: String::new(),
                        effect: "Deny".into(),
                        attached_entity_type: "Session".into(),
                    }),
                },
                Decision::ImplicitDeny { resource } => Refusal {
                    resource,
                    explicit: false,
                    policy_type: "SessionPolicy",
                    matched: None,
                },
            },
        },
        Decision::ExplicitDeny { policy, resource } => Refusal {
            resource,
            explicit: true,
            policy_type: "AccountLevelIdentityBasedPolicy",
            matched: set.held.get(policy).map(|held| MatchedPolicy {
                policy_identifier: held.name.clone(),
                policy_type: held.kind.as_str().into(),
                policy_version: held.version.clone(),
                effect: "Deny".into(),
                attached_entity_type: attached_to.into(),
            }),
        },
        Decision::ImplicitDeny { resource } => Refusal {
            resource,
            explicit: false,
            policy_type: "AccountLevelIdentityBasedPolicy",
            matched: None,
        },
    };
    Err(refusal.error(state, principal, action, resources))
}

/// Why a call was refused.
struct Refusal {
    /// Index of the first refused resource.
    resource: usize,
    explicit: bool,
    policy_type: &'static str,
    matched: Option<MatchedPolicy>,
}

impl Refusal {
    fn error(
        self,
        state: &AppState,
        principal: &Principal<'_>,
        action: &str,
        resources: &[String],
    ) -> ApiError {
        let resource = resources.get(self.resource).cloned().unwrap_or_default();
        let policy_name = self
            .matched
            .as_ref()
            .filter(|m| m.attached_entity_type != "Session")
            .map(|m| m.policy_identifier.clone());
        let diagnosis = Diagnosis {
            account: principal.key.tenant_id.clone(),
            auth_action: action.to_string(),
            auth_resource: resource.clone(),
            explicit_deny: self.explicit,
            no_permission_policy_type: self.policy_type.to_string(),
            principal_type: principal.kind.to_string(),
            principal_display_name: principal.display_name.clone(),
            matched_policies: self.matched.into_iter().collect(),
        };
        let encoded = diagnosis.seal(state.store.cipher());
        errors::FORBIDDEN_RAM
            .error(&[&action, &resource])
            .with_access_denied(AccessDeniedDetail {
                auth_action: action.to_string(),
                auth_principal_type: principal.kind.to_string(),
                auth_principal_owner_id: principal.key.tenant_id.clone(),
                auth_principal_display_name: principal.display_name.clone(),
                policy_type: self.policy_type.to_string(),
                no_permission_type: if self.explicit {
                    "ExplicitDeny"
                } else {
                    "ImplicitDeny"
                }
                .to_string(),
                policy_name,
                encoded_diagnostic_message: encoded,
            })
    }
}
