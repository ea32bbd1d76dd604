//! The resources a call touches, read off its parameters: the audit trail records their ids,
//! authorisation checks each one's ARN. One reading for both, so that what is audited is what
//! was authorised.

use pop::FlatParams;

use crate::actions::ActionEntry;

/// Longest resource id taken; a longer value is no id of amc's.
const MAX_RESOURCE_LEN: usize = 256;

/// One resource a request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Touched {
    /// The resource type of its ARN: the parameter's name without `Id`/`Ids`/`IdList`/`Name`,
    /// lower-cased (`DesktopId` → `desktop`, `RuntimeIds` → `runtime`, `UserName` → `user`);
    /// `arn` for a parameter that is an ARN itself (`RoleArn`).
    pub kind: String,
    pub id: String,
}

/// A parameter's name without its list positions: `RuntimeIds.2` → `RuntimeIds`,
/// `Identities.1.IdentityId` → `IdentityId`.
fn base_name(name: &str) -> &str {
    name.rsplit('.')
        .find(|part| !part.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or(name)
}

/// The ARN type a parameter names, if it names a resource: values of `…Id`, `…Ids`,
/// `…IdList` (not regions), `TaskKey`, `OssObjectKey`, RAM's `UserName`, `NewUserName`,
/// `PolicyName`, `RoleName`, and `RoleArn`.
fn resource_kind(base: &str) -> Option<String> {
    match base {
        "TaskKey" => return Some("task".into()),
        "OssObjectKey" => return Some("object".into()),
        "RoleArn" => return Some("arn".into()),
        "UserName" | "NewUserName" => return Some("user".into()),
        "PolicyName" => return Some("policy".into()),
        "RoleName" => return Some("role".into()),
        _ => {}
    }
    if base.contains("Region") {
        return None;
    }
    let stem = ["IdList", "Ids", "Id"]
        .iter()
        .find_map(|suffix| base.strip_suffix(suffix))?;
    (!stem.is_empty()).then(|| stem.to_ascii_lowercase())
}

/// The resources among a request's parameters, in the order of their names.
pub(crate) fn touched(params: &FlatParams) -> Vec<Touched> {
    let mut out = Vec::new();
    for (name, value) in params.iter() {
        if value.is_empty() || value.len() > MAX_RESOURCE_LEN {
            continue;
        }
        let Some(kind) = resource_kind(base_name(name)) else {
            continue;
        };
        // A JSON list given whole (`…IdList=["a","b"]`) names each id.
        match serde_json::from_str::<Vec<String>>(value) {
            Ok(list) => out.extend(list.into_iter().map(|id| Touched {
                kind: kind.clone(),
                id,
            })),
            Err(_) => out.push(Touched {
                kind,
                id: value.to_string(),
            }),
        }
    }
    out
}

/// The ARNs authorisation checks for a call of `entry` by `account`: one per resource the
/// request names, `acs:<service>:<region>:<account>:<type>/<id>`, or, for a call naming none
/// (lists, creations), the account's whole service `acs:<service>:<region>:<account>:*`. The
/// region is the request's `RegionId`, `*` without one; RAM's ARNs have none.
pub(crate) fn arns(
    entry: &ActionEntry,
    params: &FlatParams,
    touched: &[Touched],
    account: &str,
) -> Vec<String> {
    let service = entry.ram_service();
    let region = match service {
        "ram" | "sts" => "",
        _ => params
            .get("RegionId")
            .filter(|r| !r.is_empty())
            .unwrap_or("*"),
    };
    let mut out: Vec<String> = touched
        .iter()
        .map(|resource| match resource.kind.as_str() {
            "arn" => resource.id.clone(),
            // Roles are RAM's, whichever action names one; their ARNs are lower-cased.
            "role" => ram::arn::role_arn(account, &resource.id),
            kind => {
                ram::arn::resource_arn(service, region, account, &format!("{kind}/{}", resource.id))
            }
        })
        .collect();
    out.dedup();
    if out.is_empty() {
        out.push(ram::arn::resource_arn(service, region, account, "*"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> FlatParams {
        let mut params = FlatParams::new();
        for (k, v) in pairs {
            params.insert(*k, *v);
        }
        params
    }

    #[test]
    fn resources_are_typed_by_their_parameter() {
        let touched = touched(&params(&[
            ("RuntimeIds.1", "ecd-1"),
            ("Identities.1.IdentityId", "u-3"),
            ("Identities.1.RegionId", "cn-hangzhou"),
            ("ModelTemplateIdList", "[\"mt-1\",\"mt-2\"]"),
            ("UserName", "alice"),
            ("Name", "not an id"),
            ("ApiKey", "sk-secret"),
        ]));
        let kinds: Vec<(&str, &str)> = touched
            .iter()
            .map(|t| (t.kind.as_str(), t.id.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("identity", "u-3"),
                ("modeltemplate", "mt-1"),
                ("modeltemplate", "mt-2"),
                ("runtime", "ecd-1"),
                ("user", "alice"),
            ]
        );
    }
}
