//! Stories of the store, told on both engines: SQLite in a temporary file, and PostgreSQL in a
//! database created for the run and dropped after it (`AMC_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, names the server). One walks through every
//! repository; one has many writers change the same rows at once.

use domain::runtime::{AgentStatus, DesktopStatus, Operation, Progress};
use rand::SeedableRng;
use sqlx::Executor;
use store::delivery::Delivery;
use store::models::{
    ModelChangeError, ModelTemplate, ModelTemplatePatch, NewLlmTemplate, ProviderTemplate,
};
use store::resource_groups::ResourceGroup;
use store::runtimes::{Runtime, RuntimeFilter, StepGuard};
use store::tenants::NewTenant;
use store::{Cipher, MasterKey, Secret, Store, StoreError};

fn master_key(seed: u64) -> MasterKey {
    MasterKey::generate(&mut rand::rngs::StdRng::seed_from_u64(seed))
}

fn cipher(seed: u64) -> Cipher {
    Cipher::new(master_key(seed))
}

fn runtime(
    tenant: &str,
    id: &str,
    provider: &str,
    status: DesktopStatus,
    users: &[&str],
    created_at: i64,
) -> Runtime {
    Runtime {
        id: id.into(),
        tenant_id: tenant.into(),
        name: format!("name-{id}"),
        region_id: "cn-hangzhou".into(),
        office_site_id: None,
        bundle_id: None,
        image_id: Some("imgc-0ae8jvkn4tzatayay".into()),
        template_name: "OpenClaw_Ubuntu 22.04".into(),
        os_type: "Linux".into(),
        platform: "Ubuntu".into(),
        desktop_type: "eds.enterprise_office.4c8g".into(),
        cpu: 4,
        memory_mib: 8192,
        system_disk_gib: 80,
        data_disk_gib: 40,
        charge_type: "PostPaid".into(),
        hostname: None,
        policy_group_id: None,
        agent_platform: "ENTERPRISE".into(),
        agent_provider: provider.into(),
        agent_version: "2026.3.13".into(),
        agent_status: AgentStatus::Running,
        deployment_source: "Admin".into(),
        desktop_status: status,
        resource_group_id: None,
        model_template_id: None,
        biz_type: 1,
        auth_users: users.iter().map(|u| u.to_string()).collect(),
        tags: vec![("env".into(), "prod".into())],
        progress: None,
        next_step_at: None,
        generation: 1,
        created_at,
        updated_at: created_at,
    }
}

async fn story(url: &str) -> Result<(), StoreError> {
    let store = Store::connect(url, cipher(1)).await?;
    store.claim_master_key().await?;

    // Tenants and keys: the secret is encrypted at rest and comes back whole.
    for (account, key) in [
        ("1000000000000001", "LTAIkeyone"),
        ("1000000000000002", "LTAIkeytwo"),
    ] {
        store
            .create_tenant(&NewTenant {
                account_id: account.into(),
                name: "t".into(),
                access_key_id: key.into(),
                access_key_secret: Secret::new(format!("secret-of-{key}")),
                created_at: 1,
            })
            .await?;
    }
    assert_eq!(store.tenant_count().await?, 2);
    let key = store
        .access_key("LTAIkeyone")
        .await?
        .map(|k| (k.is_root(), k.tenant_id, k.secret.expose().to_string()))
        .map(|(root, tenant, secret)| (tenant, secret, root));
    assert_eq!(
        key,
        Some((
            "1000000000000001".into(),
            "secret-of-LTAIkeyone".into(),
            true
        ))
    );
    assert!(store.access_key("LTAInobody").await?.is_none());

    // Nonces: once per key, at least until they expire (a store may keep them longer: the
    // SQLite log forgets them a few minutes' bucket at a time).
    assert!(store.record_nonce("LTAIkeyone", "n1", 1_000).await?);
    assert!(!store.record_nonce("LTAIkeyone", "n1", 1_000).await?);
    assert!(store.record_nonce("LTAIkeytwo", "n1", 1_000).await?);
    assert!(!store.record_nonce("LTAIkeytwo", "n1", 1_000).await?);
    assert_eq!(store.purge_nonces(3_600_000).await?, 2);
    assert!(store.record_nonce("LTAIkeyone", "n1", 3_700_000).await?);
    // A replay sent at the same moment as the original, many times over: one of them is new.
    // (They share a batch of the group commit, and batches of each other.)
    let attempts = (0..64).map(|i| {
        let store = store.clone();
        let nonce = if i % 2 == 0 { "same" } else { "other" };
        tokio::spawn(async move { store.record_nonce("LTAIkeyone", nonce, 9_000).await })
    });
    let mut fresh = 0;
    for attempt in attempts {
        if attempt
            .await
            .map_err(|e| StoreError::Corrupt(format!("task: {e}")))??
        {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 2, "exactly one of each nonce is new");

    // Runtimes: filters, counts, pages, tenant scoping.
    let (a, b) = ("1000000000000001", "1000000000000002");
    let tagged = |mut runtime: Runtime, team: &str| {
        runtime.tags.push(("team".into(), team.into()));
        runtime
    };
    store
        .insert_runtimes(&[
            tagged(
                runtime(
                    a,
                    "ecd-a1",
                    "OpenClaw",
                    DesktopStatus::Running,
                    &["alice"],
                    10,
                ),
                "a",
            ),
            runtime(a, "ecd-a2", "OpenClaw", DesktopStatus::Stopped, &[], 20),
            tagged(
                runtime(
                    a,
                    "jvs-a3",
                    "HermesAgent",
                    DesktopStatus::Running,
                    &["bob", "alice"],
                    30,
                ),
                "b",
            ),
            runtime(
                b,
                "ecd-b1",
                "OpenClaw",
                DesktopStatus::Running,
                &["alice"],
                40,
            ),
        ])
        .await?;
    let filter = |f: RuntimeFilter| RuntimeFilter {
        tenant_id: a.into(),
        ..f
    };
    let ids = |rows: Vec<Runtime>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let all = filter(RuntimeFilter::default());
    assert_eq!(store.count_runtimes(&all).await?, 3);
    assert_eq!(
        ids(store.list_runtimes(&all, 0, 2).await?),
        ["jvs-a3", "ecd-a2"]
    );
    assert_eq!(ids(store.list_runtimes(&all, 2, 2).await?), ["ecd-a1"]);
    let alice = filter(RuntimeFilter {
        auth_users: Some(vec!["alice".into()]),
        ..RuntimeFilter::default()
    });
    assert_eq!(
        ids(store.list_runtimes(&alice, 0, 10).await?),
        ["jvs-a3", "ecd-a1"]
    );
    let running_claws = filter(RuntimeFilter {
        agent_providers: Some(vec!["OpenClaw".into()]),
        desktop_statuses: Some(vec!["Running".into()]),
        ..RuntimeFilter::default()
    });
    assert_eq!(
        ids(store.list_runtimes(&running_claws, 0, 10).await?),
        ["ecd-a1"]
    );
    let unassigned = filter(RuntimeFilter {
        has_auth_user: Some(false),
        ..RuntimeFilter::default()
    });
    assert_eq!(
        ids(store.list_runtimes(&unassigned, 0, 10).await?),
        ["ecd-a2"]
    );
    // Tags: each asked-for tag must be there (with the value, when one is given).
    let with_tags = |tags: &[(&str, Option<&str>)]| {
        filter(RuntimeFilter {
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect(),
            ..RuntimeFilter::default()
        })
    };
    for (tags, expected) in [
        (&[("env", Some("dev"))][..], &[][..]),
        (&[("env", Some("prod"))], &["jvs-a3", "ecd-a2", "ecd-a1"]),
        (&[("env", None), ("team", None)], &["jvs-a3", "ecd-a1"]),
        (&[("env", Some("prod")), ("team", Some("a"))], &["ecd-a1"]),
        (&[("team", Some("a")), ("team", Some("a"))], &["ecd-a1"]),
        (&[("team", None), ("team", Some("b"))], &["jvs-a3"]),
        (&[("team", Some("a")), ("team", Some("b"))], &[]),
        (&[("team", Some("a")), ("nope", None)], &[]),
    ] {
        let f = with_tags(tags);
        assert_eq!(
            ids(store.list_runtimes(&f, 0, 10).await?),
            expected,
            "{tags:?}"
        );
        assert_eq!(
            store.count_runtimes(&f).await?,
            expected.len() as i64,
            "{tags:?}"
        );
    }
    let twenty: Vec<(String, Option<String>)> = (0..19)
        .map(|i| (format!("k{i}"), None))
        .chain([("team".to_string(), Some("a".to_string()))])
        .collect();
    let f = filter(RuntimeFilter {
        tags: twenty,
        ..RuntimeFilter::default()
    });
    assert_eq!(store.count_runtimes(&f).await?, 0);
    assert!(
        store
            .runtimes_by_ids(a, &["ecd-b1".into()])
            .await?
            .is_empty()
    );

    // Lifecycle: a step scheduled, found due, applied; counts follow the write.
    let stop = Progress::begin(Operation::Stop);
    store
        .set_progress(
            a,
            &["ecd-a1".into()],
            stop,
            Some(500),
            100,
            &StepGuard::begin(Operation::Stop),
        )
        .await?;
    assert_eq!(store.next_due_at().await?, Some(500));
    assert!(store.due_runtimes(499, 10).await?.is_empty());
    let due = store.due_runtimes(500, 10).await?;
    assert_eq!(
        due.iter()
            .map(|r| (r.id.as_str(), r.desktop_status))
            .collect::<Vec<_>>(),
        [("ecd-a1", DesktopStatus::Stopping)]
    );
    store
        .set_progress(
            a,
            &["ecd-a1".into()],
            stop.last(),
            None,
            500,
            &StepGuard::At(stop),
        )
        .await?;
    let stopped = store.runtimes_by_ids(a, &["ecd-a1".into()]).await?;
    assert_eq!(
        stopped
            .first()
            .map(|r| (r.desktop_status, r.agent_status, r.progress)),
        Some((DesktopStatus::Stopped, AgentStatus::Stopped, None))
    );
    assert_eq!(store.count_runtimes(&running_claws).await?, 0);
    assert_eq!(store.next_due_at().await?, None);

    // Guards: a batch with one runtime in the wrong state begins nowhere; a delete interrupts a
    // start, and the start's late step does not bring the runtime back.
    let status = |id: &'static str| {
        let store = store.clone();
        async move {
            let found = store.runtimes_by_ids(a, &[id.to_string()]).await?;
            Ok::<_, StoreError>(found.first().map(|r| r.desktop_status))
        }
    };
    store
        .insert_runtimes(&[runtime(
            a,
            "ecd-g1",
            "OpenClaw",
            DesktopStatus::Stopped,
            &[],
            60,
        )])
        .await?;
    let start = Progress::begin(Operation::Start);
    let both: Vec<String> = vec!["ecd-g1".into(), "jvs-a3".into()];
    assert!(
        !store
            .set_progress(
                a,
                &both,
                start,
                Some(700),
                600,
                &StepGuard::begin(Operation::Start)
            )
            .await?
    );
    assert_eq!(status("ecd-g1").await?, Some(DesktopStatus::Stopped));
    let g1: Vec<String> = vec!["ecd-g1".into()];
    assert!(
        store
            .set_progress(
                a,
                &g1,
                start,
                Some(700),
                600,
                &StepGuard::begin(Operation::Start)
            )
            .await?
    );
    assert!(
        !store
            .set_progress(
                a,
                &g1,
                start,
                Some(700),
                610,
                &StepGuard::begin(Operation::Stop)
            )
            .await?
    );
    let delete = Progress::begin(Operation::Delete);
    assert!(
        store
            .set_progress(
                a,
                &g1,
                delete,
                None,
                650,
                &StepGuard::begin(Operation::Delete)
            )
            .await?
    );
    assert!(
        !store
            .set_progress(a, &g1, start.last(), None, 700, &StepGuard::At(start))
            .await?
    );
    assert_eq!(status("ecd-g1").await?, Some(DesktopStatus::Deleted));

    model_story(&store, a, b).await?;
    store.close().await;

    // The store belongs to its master key: another key is refused, the same one reads on.
    let other = Store::connect(url, cipher(2)).await?;
    assert!(matches!(
        other.claim_master_key().await,
        Err(StoreError::WrongMasterKey { .. })
    ));
    other.close().await;
    let again = Store::connect(url, cipher(1)).await?;
    again.claim_master_key().await?;
    // The three runtimes above and the model story's one.
    assert_eq!(again.count_runtimes(&all).await?, 4);
    again.close().await;

    // Rotation: every secret is rewritten under the new key, which the store then belongs to.
    let rotating = Store::connect(
        url,
        Cipher::with_previous(master_key(3), vec![master_key(1)]),
    )
    .await?;
    assert_eq!(rotating.reencrypt_secrets().await?, 3);
    assert_eq!(rotating.reencrypt_secrets().await?, 0);
    rotating.close().await;
    let rotated = Store::connect(url, cipher(3)).await?;
    rotated.claim_master_key().await?;
    assert_eq!(
        rotated
            .access_key("LTAIkeytwo")
            .await?
            .map(|k| k.secret.expose().to_string()),
        Some("secret-of-LTAIkeytwo".into())
    );
    let keys: Vec<Option<String>> = rotated
        .providers_of(a, "mt-story1")
        .await?
        .iter()
        .map(|p| p.api_key.as_ref().map(|k| k.expose().to_string()))
        .collect();
    assert_eq!(keys, [Some("sk-story-0123456789".to_string())]);
    rotated.close().await;
    let stale = Store::connect(url, cipher(1)).await?;
    assert!(matches!(
        stale.claim_master_key().await,
        Err(StoreError::WrongMasterKey { .. })
    ));
    stale.close().await;
    Ok(())
}

/// Model groups: providers with encrypted keys, models, the default model, generation bumps,
/// refused deletes, tenant scoping.
async fn model_story(store: &Store, a: &str, b: &str) -> Result<(), StoreError> {
    let group = ModelTemplate {
        id: "mt-story1".into(),
        tenant_id: a.into(),
        name: "story".into(),
        description: String::new(),
        agent_platform: "ENTERPRISE".into(),
        agent_provider: "OpenClaw".into(),
        biz_type: 1,
        ref_scope: "RESOURCE_MIXED".into(),
        source: "User".into(),
        config: "{}".into(),
        model_count: 0,
        created_at: 1,
        updated_at: 1,
    };
    store.insert_model_template(&group).await?;
    let mut user = runtime(a, "ecd-m1", "OpenClaw", DesktopStatus::Running, &[], 50);
    user.model_template_id = Some(group.id.clone());
    store.insert_runtimes(&[user]).await?;

    let provider = ProviderTemplate {
        id: "mpt-story1".into(),
        tenant_id: a.into(),
        model_template_id: group.id.clone(),
        provider_name: "bailian".into(),
        provider_type: "Managed".into(),
        name: "Bailian".into(),
        description: String::new(),
        agent_platform: "ENTERPRISE".into(),
        agent_provider: "OpenClaw".into(),
        biz_type: 1,
        base_url: "https://dashscope.aliyuncs.com/compatible-mode/v1".into(),
        api: "openai-completions".into(),
        api_key: Some(Secret::new("sk-story-0123456789")),
        enable_wuying_proxy: false,
        created_at: 2,
        updated_at: 2,
    };
    store
        .insert_provider_template(&provider)
        .await
        .map_err(story_error)?;
    let duplicate = ProviderTemplate {
        id: "mpt-story2".into(),
        ..provider.clone()
    };
    assert!(matches!(
        store.insert_provider_template(&duplicate).await,
        Err(ModelChangeError::DuplicateProviderName(_))
    ));
    let read = store.providers_of(a, &group.id).await?;
    assert_eq!(read, std::slice::from_ref(&provider));
    assert!(!format!("{read:?}").contains("sk-story"));
    assert_eq!(
        read.first().and_then(|p| p.masked_api_key()),
        Some("sk-s****6789".into())
    );

    let model = |id: &str, code: &str, is_default: bool| NewLlmTemplate {
        id: id.into(),
        llm_code: code.into(),
        name: code.into(),
        description: String::new(),
        config: "{}".into(),
        is_default,
        prices: Default::default(),
        credit_multiplier: None,
    };
    let outcome = store
        .batch_create_llm_templates(
            a,
            &provider.id,
            &[
                model("llmt-s1", "qwen-max", true),
                model("llmt-s2", "qwen-plus", false),
            ],
            3,
        )
        .await
        .map_err(story_error)?;
    assert_eq!(outcome.created, ["llmt-s1", "llmt-s2"]);
    let again = store
        .batch_create_llm_templates(a, &provider.id, &[model("llmt-s3", "qwen-max", true)], 4)
        .await
        .map_err(story_error)?;
    assert!(again.created.is_empty() && again.skipped.len() == 1);
    let models = store.llm_templates_of(a, &group.id).await?;
    let defaults: Vec<String> = models
        .iter()
        .filter(|m| m.is_default)
        .map(|m| m.model_ref().to_string())
        .collect();
    assert_eq!(defaults, ["bailian/qwen-max"]);
    let stored = store.model_template(a, &group.id).await?;
    assert_eq!(
        stored.as_ref().map(|g| (g.config.as_str(), g.model_count)),
        Some((
            r#"{"defaults":{"model":{"primary":"bailian/qwen-max"}}}"#,
            2
        ))
    );
    // Two changes, two bumps; a refused batch bumps nothing.
    let generation = store
        .runtimes_by_ids(a, &["ecd-m1".into()])
        .await?
        .first()
        .map(|r| r.generation);
    assert_eq!(generation, Some(3));
    assert!(matches!(
        store.delete_model_template(a, &group.id).await,
        Err(ModelChangeError::InUse { count: 1, .. })
    ));
    assert!(matches!(
        store.delete_provider_template(a, &provider.id, 5).await,
        Err(ModelChangeError::InUse { count: 2, .. })
    ));
    // Another tenant sees nothing and changes nothing.
    assert_eq!(store.model_template(b, &group.id).await?, None);
    assert!(store.providers_of(b, &group.id).await?.is_empty());
    assert!(store.llm_templates_of(b, &group.id).await?.is_empty());
    assert!(matches!(
        store.delete_llm_template(b, "llmt-s1", 6).await,
        Err(ModelChangeError::LlmNotFound(_))
    ));
    Ok(())
}

fn story_error(e: ModelChangeError) -> StoreError {
    match e {
        ModelChangeError::Store(e) => e,
        other => StoreError::Corrupt(other.to_string()),
    }
}

/// Runs `story` on a fresh SQLite store file.
async fn on_sqlite<F, Fut>(story: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    let dir = std::env::temp_dir().join(format!("amc-store-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("temp dir: {e}"));
    let url = format!("sqlite://{}?mode=rwc", dir.join("amc.db").display());
    let result = story(url).await;
    let _ = std::fs::remove_dir_all(&dir);
    result.unwrap_or_else(|e| panic!("{e}"));
}

/// Runs `story` on a PostgreSQL database created for it and dropped after it.
async fn on_postgres<F, Fut>(story: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    sqlx::any::install_default_drivers();
    let server = std::env::var("AMC_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = sqlx::AnyPool::connect(&server)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {server}: {e}"));
    let name = format!("amc_store_{}", uuid_like());
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap_or_else(|e| panic!("create db: {e}"));
    let url = match server.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("AMC_TEST_POSTGRES_URL must end with /database"),
    };
    let result = story(url).await;
    let _ = admin
        .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await;
    result.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn story_on_sqlite() {
    on_sqlite(|url| async move { story(&url).await }).await;
}

#[tokio::test]
async fn story_on_postgres() {
    on_postgres(|url| async move { story(&url).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contention_on_sqlite() {
    on_sqlite(|url| async move { contention(&url).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contention_on_postgres() {
    on_postgres(|url| async move { contention(&url).await }).await;
}

/// What one writer of the contention story did.
#[derive(Default)]
struct Tally {
    done: usize,
    conflicts: usize,
}

impl Tally {
    /// Counts one write; a conflict (contention that outlasted the reruns) is allowed, any other
    /// failure is not.
    fn count<T>(&mut self, result: Result<T, StoreError>) -> Result<(), StoreError> {
        match result {
            Ok(_) => self.done += 1,
            Err(StoreError::Contended(_)) => self.conflicts += 1,
            Err(other) => return Err(other),
        }
        Ok(())
    }
}

fn model_change(result: Result<(), ModelChangeError>) -> Result<(), StoreError> {
    match result {
        Ok(()) => Ok(()),
        Err(ModelChangeError::Store(e)) => Err(e),
        Err(other) => Err(StoreError::Corrupt(other.to_string())),
    }
}

/// issue: contention. Many writers at once assign and take away model groups of overlapping
/// runtimes, update the groups (each update rewrites the generation of every runtime using it),
/// and stop and start runtimes: no write fails and none ends in a conflict (rows are locked in one
/// order, and a deadlock would be rerun, not reported), and concurrent updates of different fields of one provider template all
/// land.
async fn contention(url: &str) -> Result<(), StoreError> {
    const WRITERS: usize = 12;
    const ROUNDS: usize = 20;
    const RUNTIMES: usize = 400;
    let store = Store::connect(url, cipher(1)).await?;
    let t = "1000000000000001";
    store
        .create_tenant(&NewTenant {
            account_id: t.into(),
            name: "t".into(),
            access_key_id: "LTAIcontention".into(),
            access_key_secret: Secret::new("secret"),
            created_at: 1,
        })
        .await?;
    store
        .create_resource_group(&ResourceGroup {
            id: "rg-storm".into(),
            tenant_id: t.into(),
            name: "storm".into(),
            display_name: "storm".into(),
            status: "OK".into(),
            tags: vec![],
            created_at: 1,
        })
        .await?;
    let ids: Vec<String> = (0..RUNTIMES).map(|i| format!("ecd-storm{i:05}")).collect();
    let fleet: Vec<Runtime> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mut rt = runtime(t, id, "OpenClaw", DesktopStatus::Running, &[], i as i64);
            rt.resource_group_id = Some("rg-storm".into());
            rt
        })
        .collect();
    for chunk in fleet.chunks(100) {
        store.insert_runtimes(chunk).await?;
    }
    let groups: Vec<String> = (0..3).map(|i| format!("mt-storm{i}")).collect();
    for id in &groups {
        store
            .insert_model_template(&ModelTemplate {
                id: id.clone(),
                tenant_id: t.into(),
                name: id.clone(),
                description: String::new(),
                agent_platform: "ENTERPRISE".into(),
                agent_provider: "OpenClaw".into(),
                biz_type: 1,
                ref_scope: "RESOURCE_MIXED".into(),
                source: "User".into(),
                config: "{}".into(),
                model_count: 0,
                created_at: 1,
                updated_at: 1,
            })
            .await?;
    }
    assert_eq!(
        store
            .bind_resource_group_model_template(t, "rg-storm", "OpenClaw", &groups[0], 2)
            .await?,
        Delivery::Done
    );

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (store, ids, groups) = (store.clone(), ids.clone(), groups.clone());
        writers.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            for round in 0..ROUNDS {
                let n = w * ROUNDS + round;
                let group = &groups[n % groups.len()];
                // Overlapping runs of runtimes, each named in an order of its own.
                let batch: Vec<String> = (0..50)
                    .map(|i| ids[(n * 37 + i * 11) % ids.len()].clone())
                    .collect();
                let now = 10 + n as i64;
                match (w + round) % 4 {
                    0 => tally.count(
                        store
                            .assign_runtime_model_template(t, &batch, group, now)
                            .await,
                    )?,
                    1 => tally.count(
                        store
                            .unassign_runtime_model_template(t, &batch, group, now)
                            .await,
                    )?,
                    2 => {
                        let patch = ModelTemplatePatch {
                            description: Some(format!("writer {w} round {round}")),
                            ..ModelTemplatePatch::default()
                        };
                        match model_change(store.update_model_template(t, group, &patch, now).await)
                        {
                            Err(StoreError::Contended(_)) => tally.conflicts += 1,
                            other => tally.count(other)?,
                        }
                    }
                    _ => {
                        let operation = if round % 2 == 0 {
                            Operation::Stop
                        } else {
                            Operation::Start
                        };
                        tally.count(
                            store
                                .set_progress(
                                    t,
                                    &batch[..5],
                                    Progress::begin(operation).last(),
                                    None,
                                    now,
                                    &StepGuard::begin(operation),
                                )
                                .await,
                        )?
                    }
                }
            }
            Ok::<_, StoreError>(tally)
        }));
    }
    let (mut done, mut conflicts) = (0, 0);
    for writer in writers {
        let tally = writer
            .await
            .map_err(|e| StoreError::Corrupt(format!("writer panicked: {e}")))??;
        done += tally.done;
        conflicts += tally.conflicts;
    }
    assert_eq!(done + conflicts, WRITERS * ROUNDS);
    // Locked in one order, writers queue instead of deadlocking: nothing is left to conflict.
    assert_eq!(conflicts, 0, "writes that kept deadlocking");
    // Every runtime is where some write left it: a model group of the three, and at rest.
    let after = store.runtimes_by_ids(t, &ids).await?;
    assert_eq!(after.len(), RUNTIMES);
    for rt in &after {
        assert!(rt.progress.is_none(), "{} is still in an operation", rt.id);
        assert!(
            rt.model_template_id
                .as_ref()
                .is_none_or(|m| groups.contains(m)),
            "{} has {:?}",
            rt.id,
            rt.model_template_id
        );
    }

    // Four writers update four different fields of one provider template, twenty times each:
    // every field ends with its writer's last value.
    let provider = ProviderTemplate {
        id: "mpt-storm".into(),
        tenant_id: t.into(),
        model_template_id: groups[1].clone(),
        provider_name: "provider-storm".into(),
        provider_type: "Custom".into(),
        name: "storm".into(),
        description: String::new(),
        agent_platform: "ENTERPRISE".into(),
        agent_provider: "OpenClaw".into(),
        biz_type: 1,
        base_url: "https://llm.example.com/v1".into(),
        api: "openai-completions".into(),
        api_key: Some(Secret::new("sk-first")),
        enable_wuying_proxy: false,
        created_at: 1,
        updated_at: 1,
    };
    store
        .insert_provider_template(&provider)
        .await
        .map_err(story_error)?;
    let mut writers = Vec::new();
    for field in 0..4 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for round in 0..ROUNDS {
                let value = format!("{field}-{round}");
                store
                    .update_provider_template(t, "mpt-storm", |mut p| {
                        match field {
                            0 => p.name = value.clone(),
                            1 => p.description = value.clone(),
                            2 => p.base_url = format!("https://{value}.example.com/v1"),
                            _ => p.api_key = Some(Secret::new(value.clone())),
                        }
                        p.updated_at = 100 + round as i64;
                        Ok(p)
                    })
                    .await
                    .map_err(story_error)?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    for writer in writers {
        writer
            .await
            .map_err(|e| StoreError::Corrupt(format!("writer panicked: {e}")))??;
    }
    let last = ROUNDS - 1;
    let stored = store.provider_template(t, "mpt-storm").await?;
    assert_eq!(
        stored.map(|p| (
            p.name,
            p.description,
            p.base_url,
            p.api_key.map(|k| k.expose().to_string())
        )),
        Some((
            format!("0-{last}"),
            format!("1-{last}"),
            format!("https://2-{last}.example.com/v1"),
            Some(format!("3-{last}"))
        ))
    );
    store.close().await;
    Ok(())
}

fn uuid_like() -> String {
    use rand::Rng;
    let n: u64 = rand::thread_rng().r#gen();
    format!("{:x}_{n:016x}", std::process::id())
}

/// Two replicas on one PostgreSQL database: a page one of them has cached gives way to what the
/// other writes, at the next read (issue 11: the rows of a page never lag).
#[tokio::test]
async fn cached_pages_follow_other_replicas_on_postgres() {
    on_postgres(|url| async move {
        let a = Store::connect(&url, cipher(1)).await?;
        let b = Store::connect(&url, cipher(1)).await?;
        let t = "1000000000000001";
        a.create_tenant(&NewTenant {
            account_id: t.into(),
            name: "t".into(),
            access_key_id: "LTAIreplicas".into(),
            access_key_secret: Secret::new("secret"),
            created_at: 1,
        })
        .await?;
        let filter = RuntimeFilter {
            tenant_id: t.into(),
            ..RuntimeFilter::default()
        };
        let names = |page: &[store::runtimes::RuntimeListing]| {
            page.iter().map(|r| r.id.clone()).collect::<Vec<_>>()
        };
        assert!(b.list_runtime_listings(&filter, 0, 10).await?.is_empty());
        assert!(b.list_runtime_listings(&filter, 0, 10).await?.is_empty());
        a.insert_runtimes(&[runtime(
            t,
            "ecd-a",
            "OpenClaw",
            DesktopStatus::Running,
            &[],
            1,
        )])
        .await?;
        assert_eq!(
            names(&b.list_runtime_listings(&filter, 0, 10).await?),
            ["ecd-a"]
        );
        let stop = Progress::begin(Operation::Stop);
        a.set_progress(
            t,
            &["ecd-a".into()],
            stop.last(),
            None,
            2,
            &StepGuard::begin(Operation::Stop),
        )
        .await?;
        let page = b.list_runtime_listings(&filter, 0, 10).await?;
        assert_eq!(page[0].desktop_status, DesktopStatus::Stopped);
        Ok(())
    })
    .await;
}

/// RAM identities: users and their keys, policies and their versions, attachments, roles and
/// the temporary keys issued for them.
async fn ram_story(url: &str) -> Result<(), StoreError> {
    use store::ram::{
        Grantee, KeyOwner, NewSessionKey, PolicyKind, RamRole, RamUser, Refusal, UserUpdate,
    };
    use store::tenants::KeyPrincipal;

    let store = Store::connect(url, cipher(7)).await?;
    let tenant = "1000000000000009";
    store
        .create_tenant(&NewTenant {
            account_id: tenant.into(),
            name: "t".into(),
            access_key_id: "LTAIroot".into(),
            access_key_secret: Secret::new("root-secret"),
            created_at: 1,
        })
        .await?;
    let user = |name: &str| RamUser {
        id: format!("id-{name}"),
        name: name.into(),
        display_name: name.into(),
        comments: String::new(),
        email: String::new(),
        mobile_phone: String::new(),
        created_at: 5,
        updated_at: 5,
    };
    assert!(store.create_ram_user(tenant, &user("alice")).await?.is_ok());
    assert_eq!(
        store.create_ram_user(tenant, &user("alice")).await?,
        Err(Refusal::UserExists)
    );
    store.create_ram_user(tenant, &user("bob")).await?.ok();
    let page = store.ram_users(tenant, Some("alice"), 10).await?;
    assert_eq!(
        page.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
        ["bob"]
    );

    // Keys: two per user, never more; the root's are its own.
    let alice = KeyOwner::User("alice");
    for id in ["LTAIa1", "LTAIa2"] {
        assert!(
            store
                .create_owned_key(tenant, alice, id, &Secret::new("s"), 6)
                .await?
                .is_ok()
        );
    }
    assert_eq!(
        store
            .create_owned_key(tenant, alice, "LTAIa3", &Secret::new("s"), 6)
            .await?,
        Err(Refusal::KeyLimit)
    );
    assert_eq!(
        store
            .owned_keys(tenant, KeyOwner::Root)
            .await?
            .map(|k| k.len()),
        Ok(1)
    );
    let key = store.access_key("LTAIa1").await?.map(|k| k.principal);
    assert_eq!(
        key,
        Some(KeyPrincipal::User {
            name: "alice".into()
        })
    );
    assert!(
        store
            .set_owned_key_status(tenant, alice, "LTAIa1", false)
            .await?
            .is_ok()
    );
    assert_eq!(
        store.access_key("LTAIa1").await?.map(|k| k.active),
        Some(false)
    );
    assert_eq!(
        store
            .delete_owned_key(tenant, KeyOwner::User("bob"), "LTAIa1")
            .await?,
        Err(Refusal::NoSuchKey),
        "a key is changed through its own user only"
    );

    // Policies: versions v1, v2, … with one default; five at most unless the oldest rotates out.
    assert!(
        store
            .create_custom_policy(tenant, "p", "", "{v1}", 7)
            .await?
            .is_ok()
    );
    for n in 2..=5 {
        let doc = format!("{{v{n}}}");
        assert!(
            store
                .create_policy_version(tenant, "p", &doc, n == 3, false, 8)
                .await?
                .is_ok()
        );
    }
    assert_eq!(
        store
            .create_policy_version(tenant, "p", "{v6}", false, false, 9)
            .await?,
        Err(Refusal::VersionLimit)
    );
    let v6 = store
        .create_policy_version(tenant, "p", "{v6}", false, true, 9)
        .await?;
    assert_eq!(v6.map(|v| v.version_id), Ok("v6".into()));
    let versions = store
        .policy_versions(tenant, "p")
        .await?
        .unwrap_or_default();
    let ids: Vec<&str> = versions.iter().map(|v| v.version_id.as_str()).collect();
    assert_eq!(
        ids,
        ["v2", "v3", "v4", "v5", "v6"],
        "v1, the oldest non-default, rotated out"
    );
    assert_eq!(
        store.delete_policy_version(tenant, "p", "v3").await?,
        Err(Refusal::DefaultVersion)
    );

    // Attachments follow a renamed user; a user with keys or policies is not deleted.
    let grantee = Grantee::User("alice");
    assert!(
        store
            .attach_policy(tenant, grantee, PolicyKind::Custom, "p", 10)
            .await?
            .is_ok()
    );
    assert_eq!(
        store
            .attach_policy(tenant, grantee, PolicyKind::Custom, "p", 10)
            .await?,
        Err(Refusal::AlreadyAttached)
    );
    store
        .attach_policy(tenant, grantee, PolicyKind::System, "ReadOnlyAccess", 11)
        .await?
        .ok();
    assert_eq!(
        store.delete_custom_policy(tenant, "p", false).await?,
        Err(Refusal::PolicyAttached)
    );
    let update = UserUpdate {
        name: Some("alice2".into()),
        ..UserUpdate::default()
    };
    assert!(
        store
            .update_ram_user(tenant, "alice", &update, 12)
            .await?
            .is_ok()
    );
    let attached = store.attachments(tenant, Grantee::User("alice2")).await?;
    assert_eq!(attached.len(), 2);
    assert_eq!(
        attached[0].custom.as_ref().map(|c| c.document.as_str()),
        Some("{v3}"),
        "the default version's document"
    );
    assert_eq!(
        store.access_key("LTAIa2").await?.map(|k| k.principal),
        Some(KeyPrincipal::User {
            name: "alice2".into()
        })
    );
    assert_eq!(
        store.delete_ram_user(tenant, "alice2").await?,
        Err(Refusal::UserHasKeys)
    );
    for id in ["LTAIa1", "LTAIa2"] {
        store
            .delete_owned_key(tenant, KeyOwner::User("alice2"), id)
            .await?
            .ok();
    }
    assert_eq!(
        store.delete_ram_user(tenant, "alice2").await?,
        Err(Refusal::UserHasPolicies)
    );
    assert!(store.delete_custom_policy(tenant, "p", true).await?.is_ok());
    assert_eq!(
        store
            .attachments(tenant, Grantee::User("alice2"))
            .await?
            .len(),
        1
    );

    // A role's temporary keys go with it.
    let role = RamRole {
        id: "r1".into(),
        name: "Reader".into(),
        description: String::new(),
        trust_policy: "{}".into(),
        max_session_duration: 3600,
        created_at: 13,
        updated_at: 13,
    };
    assert!(store.create_ram_role(tenant, &role).await?.is_ok());
    assert!(
        store.ram_role(tenant, "reader").await?.is_some(),
        "role names ignore case"
    );
    let issued = store
        .create_session_key(&NewSessionKey {
            id: "STS.one".into(),
            tenant_id: tenant.into(),
            secret: Secret::new("sts-secret"),
            role_name: "Reader".into(),
            session_name: "s".into(),
            session_policy: None,
            token_hash: "hash".into(),
            expires_at: 1_000,
            created_at: 14,
        })
        .await?;
    assert!(issued.is_ok());
    let shouting = RamRole {
        id: "r2".into(),
        name: "READER".into(),
        ..role.clone()
    };
    assert_eq!(
        store.create_ram_role(tenant, &shouting).await?,
        Err(Refusal::RoleExists),
        "one role per name, whatever its case"
    );
    match store.access_key("STS.one").await?.map(|k| k.principal) {
        Some(KeyPrincipal::Session(session)) => {
            assert_eq!(
                (session.role_name.as_str(), session.expires_at),
                ("Reader", 1_000)
            );
        }
        other => panic!("not a session key: {other:?}"),
    }
    store
        .attach_policy(
            tenant,
            Grantee::Role("Reader"),
            PolicyKind::System,
            "ReadOnlyAccess",
            15,
        )
        .await?
        .ok();
    assert_eq!(
        store.delete_ram_role(tenant, "Reader").await?,
        Err(Refusal::RoleHasPolicies)
    );
    store
        .detach_policy(
            tenant,
            Grantee::Role("Reader"),
            PolicyKind::System,
            "ReadOnlyAccess",
        )
        .await?
        .ok();
    assert!(store.delete_ram_role(tenant, "READER").await?.is_ok());
    assert!(
        store.access_key("STS.one").await?.is_none(),
        "revoked with its role"
    );
    let late = NewSessionKey {
        id: "STS.two".into(),
        tenant_id: tenant.into(),
        secret: Secret::new("sts-secret"),
        role_name: "Reader".into(),
        session_name: "s".into(),
        session_policy: None,
        token_hash: "hash".into(),
        expires_at: 1_000,
        created_at: 16,
    };
    assert_eq!(
        store.create_session_key(&late).await?,
        Err(Refusal::NoSuchRole),
        "no key for a deleted role"
    );
    assert_eq!(store.purge_session_keys(i64::MAX).await?, 0);
    store.close().await;
    Ok(())
}

#[tokio::test]
async fn ram_story_on_sqlite() {
    on_sqlite(|url| async move { ram_story(&url).await }).await;
}

#[tokio::test]
async fn ram_story_on_postgres() {
    on_postgres(|url| async move { ram_story(&url).await }).await;
}
