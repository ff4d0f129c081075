//! The harness shared by the store test suites: a fresh PostgreSQL database per test
//! (`relay_test_<hex>` on `RELAY_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, dropped afterwards; skipped without a
//! reachable server unless `CI` is set, then failing), and `store_tests!`, which runs each
//! behaviour against the memory store and against PostgreSQL.

use std::future::Future;

use tokio_postgres::NoTls;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database created for one test, dropped by [`TestDb::drop`].
pub(crate) struct TestDb {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDb {
    /// Creates an empty database; `None` (after printing why) when PostgreSQL is unreachable
    /// outside CI.
    async fn create() -> Option<TestDb> {
        let admin_url =
            std::env::var("RELAY_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
        let admin = match admin_client(&admin_url).await {
            Ok(client) => client,
            Err(e) => {
                if std::env::var_os("CI").is_some() {
                    panic!("PostgreSQL not reachable at {admin_url} (CI is set): {e}");
                }
                println!("skipped: PostgreSQL not reachable");
                return None;
            }
        };
        let name = format!("relay_test_{:016x}", rand::random::<u64>());
        // Identifiers cannot be parameters; `name` is generated hex only.
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("CREATE DATABASE");
        let url = with_dbname(&admin_url, &name);
        Some(TestDb {
            admin_url,
            name,
            url,
        })
    }

    /// Drops the database, best effort.
    async fn drop(self) {
        if let Ok(admin) = admin_client(&self.admin_url).await {
            let dropped = admin
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    self.name
                ))
                .await;
            if let Err(e) = dropped {
                eprintln!("could not drop test database {}: {e}", self.name);
            }
        }
    }
}

pub(crate) async fn admin_client(
    url: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = url.parse()?;
    config.connect_timeout(std::time::Duration::from_secs(5));
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// `url` pointing at database `name` instead.
fn with_dbname(url: &str, name: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if matches!(parsed.scheme(), "postgres" | "postgresql") => {
            parsed.set_path(name);
            parsed.to_string()
        }
        // The key=value form: a later key wins.
        _ => format!("{url} dbname={name}"),
    }
}

/// Runs `body` on a fresh database and drops it afterwards, even when `body` panics.
pub(crate) async fn with_test_db<F, Fut>(body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = TestDb::create().await else {
        return;
    };
    let outcome = tokio::spawn(body(db.url.clone())).await;
    db.drop().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Runs each named behaviour (an `async fn(Store)` of the invoking file) against the memory
/// store and against PostgreSQL, on a multi-threaded runtime (so concurrent cases really run in
/// parallel).
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn memory() {
                super::$name(relay_server::store::Store::memory()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                crate::common::with_test_db(|url| async move {
                    let store = relay_server::store::Store::connect(&url)
                        .await
                        .expect("connect and migrate");
                    assert!(store.is_durable());
                    super::$name(store).await;
                })
                .await;
            }
        }
    )*};
}
