//! The action table: every action of the four products with its product, version and RAM
//! action, and the handler that serves it. One pipeline (see `endpoint`) runs them all.

pub mod catalogue;
pub mod channels;
pub(crate) mod common;
pub mod credits;
pub mod delivery;
pub mod limits;
pub mod models;
pub mod office_sites;
pub mod ram;
pub mod resource_groups;
pub mod runtimes;
pub mod skills;
pub mod sts;

use std::future::Future;
use std::pin::Pin;

use pop::{ApiError, FlatParams};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Ctx;

/// One action: a typed request that knows how to answer itself.
pub trait Action: DeserializeOwned + Send + 'static {
    type Response: Serialize + Send;
    fn handle(self, ctx: &Ctx) -> impl Future<Output = Result<Self::Response, ApiError>> + Send;
}

/// The JSON body of a successful call, `RequestId` included.
pub type ActionFuture = Pin<Box<dyn Future<Output = Result<Vec<u8>, ApiError>> + Send>>;
pub type Handler = fn(Ctx, FlatParams) -> ActionFuture;
/// Decodes the typed request only; the spec test uses it to prove required parameters are required.
pub type Decoder = fn(&FlatParams) -> Result<(), ApiError>;

/// How an action is served.
#[derive(Debug, Clone, Copy)]
pub struct Served {
    pub handle: Handler,
    pub decode: Decoder,
}

/// A row of the action table.
#[derive(Debug, Clone, Copy)]
pub struct ActionEntry {
    pub product: &'static str,
    pub version: &'static str,
    pub name: &'static str,
    /// `None` while amc does not serve the action yet; callers get `UnsupportedOperation`.
    pub served: Option<Served>,
}

impl ActionEntry {
    /// The RAM service code of the product (`appstreaming`, `ecd`, `wss`, `resourcemanager`).
    pub fn ram_service(&self) -> &'static str {
        match self.product {
            "appstream-center" => "appstreaming",
            "resourcemanager" => "resourcemanager",
            "ram" => "ram",
            "sts" => "sts",
            "wss" => "wss",
            _ => "ecd",
        }
    }

    /// The RAM action name policies refer to, e.g. `ecd:CreateDesktops`.
    pub fn ram_action(&self) -> String {
        format!("{}:{}", self.ram_service(), self.name)
    }
}

const fn action(
    product: &'static str,
    version: &'static str,
    name: &'static str,
    served: Option<Served>,
) -> ActionEntry {
    ActionEntry {
        product,
        version,
        name,
        served,
    }
}

const fn serve<A: Action>() -> Option<Served> {
    Some(Served {
        handle: run::<A>,
        decode: decode::<A>,
    })
}

fn decode<A: Action>(params: &FlatParams) -> Result<(), ApiError> {
    pop::from_params::<A>(params).map(|_| ())
}

/// A response body with the `RequestId` every answer carries.
#[derive(Serialize)]
struct Envelope<'a, T> {
    #[serde(rename = "RequestId")]
    request_id: &'a str,
    #[serde(flatten)]
    body: T,
}

fn run<A: Action>(ctx: Ctx, params: FlatParams) -> ActionFuture {
    Box::pin(async move {
        let request: A = pop::from_params(&params)?;
        let response = request.handle(&ctx).await?;
        // Straight to bytes: building a `serde_json::Value` first costs an allocation per field.
        serde_json::to_vec(&Envelope {
            request_id: &ctx.request_id,
            body: response,
        })
        .map_err(crate::errors::internal)
    })
}

pub static ACTIONS: &[ActionEntry] = &[
    action(
        "appstream-center",
        "2021-09-01",
        "BatchCreateLlmTemplates",
        serve::<models::BatchCreateLlmTemplates>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "ConfigResourceGroupModelTemplate",
        serve::<delivery::ConfigResourceGroupModelTemplate>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "ConfigRuntimeChannel",
        serve::<channels::ConfigRuntimeChannel>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "ConfigRuntimeModelTemplate",
        serve::<delivery::ConfigRuntimeModelTemplate>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "CreateModelProviderTemplate",
        serve::<models::CreateModelProviderTemplate>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "CreateModelTemplate",
        serve::<models::CreateModelTemplate>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "DeleteLlmTemplate",
        serve::<models::DeleteLlmTemplate>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "DeleteModelProviderTemplate",
        serve::<models::DeleteModelProviderTemplate>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "DeleteModelTemplate",
        serve::<models::DeleteModelTemplate>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "GetModelProviderTemplate",
        serve::<models::GetModelProviderTemplate>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "GetRuntimeChannel",
        serve::<channels::GetRuntimeChannel>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "GetRuntimeModelConfig",
        serve::<delivery::GetRuntimeModelConfig>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "ListDesktopAgentRuntime",
        serve::<runtimes::ListDesktopAgentRuntime>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "ListLlmTemplates",
        serve::<models::ListLlmTemplates>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "ListModelProviderEndpoints",
        serve::<models::ListModelProviderEndpoints>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "ListModelProviderTemplates",
        serve::<models::ListModelProviderTemplates>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "ListModelTemplateResourceGroup",
        serve::<delivery::ListModelTemplateResourceGroup>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "ListModelTemplates",
        serve::<models::ListModelTemplates>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "RemoveResourceGroupModelTemplate",
        serve::<delivery::RemoveResourceGroupModelTemplate>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "RemoveRuntimeChannel",
        serve::<channels::RemoveRuntimeChannel>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "RemoveRuntimeModelTemplate",
        serve::<delivery::RemoveRuntimeModelTemplate>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "UpdateModelProviderTemplate",
        serve::<models::UpdateModelProviderTemplate>(),
    ),
    action(
        "appstream-center",
        "2021-09-01",
        "UpdateModelTemplate",
        serve::<models::UpdateModelTemplate>(),
    ),
    action(
        "ecd",
        "2021-06-02",
        "CreateTenantSkill",
        serve::<skills::CreateTenantSkill>(),
    ),
    action(
        "ecd",
        "2021-06-02",
        "DeleteTenantSkills",
        serve::<skills::DeleteTenantSkills>(),
    ),
    action(
        "ecd",
        "2021-06-02",
        "GetOssStsToken",
        serve::<skills::GetOssStsToken>(),
    ),
    action(
        "ecd",
        "2021-06-02",
        "GetParseProgress",
        serve::<skills::GetParseProgress>(),
    ),
    action(
        "ecd",
        "2021-06-02",
        "ListSecureSkillIdentities",
        serve::<skills::ListSecureSkillIdentities>(),
    ),
    action(
        "ecd",
        "2021-06-02",
        "ListSkillAuthedIdentities",
        serve::<skills::ListSkillAuthedIdentities>(),
    ),
    action(
        "ecd",
        "2021-06-02",
        "ListSkills",
        serve::<skills::ListSkills>(),
    ),
    action(
        "ecd",
        "2021-06-02",
        "ParseSkillPackage",
        serve::<skills::ParseSkillPackage>(),
    ),
    action(
        "ecd",
        "2021-06-02",
        "SetIdentitySkillAuth",
        serve::<skills::SetIdentitySkillAuth>(),
    ),
    action(
        "ecd",
        "2021-06-02",
        "SetIdentitySkillSecurity",
        serve::<skills::SetIdentitySkillSecurity>(),
    ),
    action(
        "ecd",
        "2021-06-02",
        "SetTenantSkillEnabled",
        serve::<skills::SetTenantSkillEnabled>(),
    ),
    action(
        "wss",
        "2021-12-21",
        "SetAgentCreditQuota",
        serve::<credits::SetAgentCreditQuota>(),
    ),
    action(
        "wss",
        "2021-12-21",
        "DescribeCreditPackageAgents",
        serve::<credits::DescribeCreditPackageAgents>(),
    ),
    action(
        "wss",
        "2021-12-21",
        "DescribeCreditUsageInfo",
        serve::<credits::DescribeCreditUsageInfo>(),
    ),
    action(
        "wss",
        "2021-12-21",
        "DescribeDeductionStatistic",
        serve::<credits::DescribeDeductionStatistic>(),
    ),
    action(
        "wss",
        "2021-12-21",
        "DescribePackageDeductions",
        serve::<credits::DescribePackageDeductions>(),
    ),
    action(
        "wss",
        "2021-12-21",
        "DescribeRunIdDeductions",
        serve::<credits::DescribeRunIdDeductions>(),
    ),
    action(
        "ecd",
        "2020-09-30",
        "CreateDesktops",
        serve::<runtimes::CreateDesktops>(),
    ),
    action(
        "ecd",
        "2020-09-30",
        "DescribeDesktops",
        serve::<runtimes::DescribeDesktops>(),
    ),
    action(
        "ecd",
        "2020-09-30",
        "StartDesktops",
        serve::<runtimes::StartDesktops>(),
    ),
    action(
        "ecd",
        "2020-09-30",
        "StopDesktops",
        serve::<runtimes::StopDesktops>(),
    ),
    action(
        "ecd",
        "2020-09-30",
        "RebootDesktops",
        serve::<runtimes::RebootDesktops>(),
    ),
    action(
        "ecd",
        "2020-09-30",
        "DeleteDesktops",
        serve::<runtimes::DeleteDesktops>(),
    ),
    // ecd 2020-09-30 beyond spec/spec.json: what a caller of CreateDesktops needs to find its
    // ids (office sites, bundles, images, regions).
    action(
        "ecd",
        "2020-09-30",
        "CreateSimpleOfficeSite",
        serve::<office_sites::CreateSimpleOfficeSite>(),
    ),
    action(
        "ecd",
        "2020-09-30",
        "DescribeOfficeSites",
        serve::<office_sites::DescribeOfficeSites>(),
    ),
    action(
        "ecd",
        "2020-09-30",
        "DeleteOfficeSites",
        serve::<office_sites::DeleteOfficeSites>(),
    ),
    action(
        "ecd",
        "2020-09-30",
        "DescribeBundles",
        serve::<catalogue::DescribeBundles>(),
    ),
    action(
        "ecd",
        "2020-09-30",
        "DescribeImages",
        serve::<catalogue::DescribeImages>(),
    ),
    action(
        "ecd",
        "2020-09-30",
        "DescribeRegions",
        serve::<catalogue::DescribeRegions>(),
    ),
    // resourcemanager 2020-03-31: not in spec/spec.json; only the resource-group actions amc needs.
    action(
        "resourcemanager",
        "2020-03-31",
        "CreateResourceGroup",
        serve::<resource_groups::CreateResourceGroup>(),
    ),
    action(
        "resourcemanager",
        "2020-03-31",
        "GetResourceGroup",
        serve::<resource_groups::GetResourceGroup>(),
    ),
    action(
        "resourcemanager",
        "2020-03-31",
        "ListResourceGroups",
        serve::<resource_groups::ListResourceGroups>(),
    ),
    action(
        "resourcemanager",
        "2020-03-31",
        "DeleteResourceGroup",
        serve::<resource_groups::DeleteResourceGroup>(),
    ),
    action(
        "resourcemanager",
        "2020-03-31",
        "MoveResources",
        serve::<resource_groups::MoveResources>(),
    ),
    // ram 2015-05-01 and sts 2015-04-01: identities, policies and temporary keys.
    action(
        "ram",
        "2015-05-01",
        "CreateUser",
        serve::<ram::CreateUser>(),
    ),
    action("ram", "2015-05-01", "GetUser", serve::<ram::GetUser>()),
    action(
        "ram",
        "2015-05-01",
        "UpdateUser",
        serve::<ram::UpdateUser>(),
    ),
    action("ram", "2015-05-01", "ListUsers", serve::<ram::ListUsers>()),
    action(
        "ram",
        "2015-05-01",
        "DeleteUser",
        serve::<ram::DeleteUser>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "CreateAccessKey",
        serve::<ram::CreateAccessKey>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "ListAccessKeys",
        serve::<ram::ListAccessKeys>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "UpdateAccessKey",
        serve::<ram::UpdateAccessKey>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "DeleteAccessKey",
        serve::<ram::DeleteAccessKey>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "CreatePolicy",
        serve::<ram::CreatePolicy>(),
    ),
    action("ram", "2015-05-01", "GetPolicy", serve::<ram::GetPolicy>()),
    action(
        "ram",
        "2015-05-01",
        "ListPolicies",
        serve::<ram::ListPolicies>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "DeletePolicy",
        serve::<ram::DeletePolicy>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "CreatePolicyVersion",
        serve::<ram::CreatePolicyVersion>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "GetPolicyVersion",
        serve::<ram::GetPolicyVersion>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "ListPolicyVersions",
        serve::<ram::ListPolicyVersions>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "DeletePolicyVersion",
        serve::<ram::DeletePolicyVersion>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "SetDefaultPolicyVersion",
        serve::<ram::SetDefaultPolicyVersion>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "AttachPolicyToUser",
        serve::<ram::AttachPolicyToUser>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "DetachPolicyFromUser",
        serve::<ram::DetachPolicyFromUser>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "ListPoliciesForUser",
        serve::<ram::ListPoliciesForUser>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "AttachPolicyToRole",
        serve::<ram::AttachPolicyToRole>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "DetachPolicyFromRole",
        serve::<ram::DetachPolicyFromRole>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "ListPoliciesForRole",
        serve::<ram::ListPoliciesForRole>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "ListEntitiesForPolicy",
        serve::<ram::ListEntitiesForPolicy>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "CreateRole",
        serve::<ram::CreateRole>(),
    ),
    action("ram", "2015-05-01", "GetRole", serve::<ram::GetRole>()),
    action("ram", "2015-05-01", "ListRoles", serve::<ram::ListRoles>()),
    action(
        "ram",
        "2015-05-01",
        "DeleteRole",
        serve::<ram::DeleteRole>(),
    ),
    action(
        "ram",
        "2015-05-01",
        "DecodeDiagnosticMessage",
        serve::<ram::DecodeDiagnosticMessage>(),
    ),
    action(
        "sts",
        "2015-04-01",
        "AssumeRole",
        serve::<sts::AssumeRole>(),
    ),
    action(
        "sts",
        "2015-04-01",
        "GetCallerIdentity",
        serve::<sts::GetCallerIdentity>(),
    ),
];

/// The served action for `(version, action)`, or the cloud's error for an unknown one.
pub fn find(version: &str, name: &str) -> Result<ServedAction, ApiError> {
    let mut version_known = false;
    for entry in ACTIONS {
        if entry.version != version {
            continue;
        }
        version_known = true;
        if entry.name == name {
            return match entry.served {
                Some(served) => Ok(ServedAction {
                    entry: *entry,
                    handle: served.handle,
                }),
                None => Err(crate::errors::UNSUPPORTED_OPERATION.error(&[&name, &version])),
            };
        }
    }
    Err(if version_known {
        ApiError::action_not_found()
    } else {
        ApiError::invalid_version()
    })
}

/// An action amc serves, with its handler.
#[derive(Debug, Clone, Copy)]
pub struct ServedAction {
    pub entry: ActionEntry,
    pub handle: Handler,
}

#[cfg(test)]
mod tests;
