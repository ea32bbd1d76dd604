//! One story of the store, told on both engines: SQLite in a temporary file, and PostgreSQL in a
//! database created for the run and dropped after it (`AMC_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, names the server).

use domain::runtime::{AgentStatus, DesktopStatus, Operation, Progress};
use rand::SeedableRng;
use sqlx::Executor;
use store::runtimes::{Runtime, RuntimeFilter};
use store::tenants::NewTenant;
use store::{Cipher, MasterKey, Secret, Store, StoreError};

fn cipher(seed: u64) -> Cipher {
    Cipher::new(MasterKey::generate(&mut rand::rngs::StdRng::seed_from_u64(
        seed,
    )))
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
        .map(|k| (k.tenant_id, k.secret.expose().to_string(), k.is_root));
    assert_eq!(
        key,
        Some((
            "1000000000000001".into(),
            "secret-of-LTAIkeyone".into(),
            true
        ))
    );
    assert!(store.access_key("LTAInobody").await?.is_none());

    // Nonces: once per key, until they expire.
    assert!(store.record_nonce("LTAIkeyone", "n1", 1_000).await?);
    assert!(!store.record_nonce("LTAIkeyone", "n1", 1_000).await?);
    assert!(store.record_nonce("LTAIkeytwo", "n1", 1_000).await?);
    assert_eq!(store.purge_nonces(2_000).await?, 2);
    assert!(store.record_nonce("LTAIkeyone", "n1", 3_000).await?);

    // Runtimes: filters, counts, pages, tenant scoping.
    let (a, b) = ("1000000000000001", "1000000000000002");
    store
        .insert_runtimes(&[
            runtime(
                a,
                "ecd-a1",
                "OpenClaw",
                DesktopStatus::Running,
                &["alice"],
                10,
            ),
            runtime(a, "ecd-a2", "OpenClaw", DesktopStatus::Stopped, &[], 20),
            runtime(
                a,
                "jvs-a3",
                "HermesAgent",
                DesktopStatus::Running,
                &["bob", "alice"],
                30,
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
    let tagged = filter(RuntimeFilter {
        tags: vec![("env".into(), Some("dev".into()))],
        ..RuntimeFilter::default()
    });
    assert_eq!(store.count_runtimes(&tagged).await?, 0);
    assert!(
        store
            .runtimes_by_ids(a, &["ecd-b1".into()])
            .await?
            .is_empty()
    );

    // Lifecycle: a step scheduled, found due, applied; counts follow the write.
    let stop = Progress::begin(Operation::Stop);
    store
        .set_progress(a, &["ecd-a1".into()], stop, Some(500), 100)
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
        .set_progress(a, &["ecd-a1".into()], stop.last(), None, 500)
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
    assert_eq!(again.count_runtimes(&all).await?, 3);
    again.close().await;
    Ok(())
}

#[tokio::test]
async fn story_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("amc-store-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("temp dir: {e}"));
    let url = format!("sqlite://{}?mode=rwc", dir.join("amc.db").display());
    let result = story(&url).await;
    let _ = std::fs::remove_dir_all(&dir);
    result.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn story_on_postgres() {
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
    let result = story(&url).await;
    let _ = admin
        .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await;
    result.unwrap_or_else(|e| panic!("{e}"));
}

fn uuid_like() -> String {
    use rand::Rng;
    let n: u64 = rand::thread_rng().r#gen();
    format!("{:x}_{n:016x}", std::process::id())
}
