use std::hash::{DefaultHasher, Hash, Hasher};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::{Client, Config, NoTls};

mod embedded {
    refinery::embed_migrations!("../migrations");
}

const TEMPLATE_DATABASE: &str = "tally_template";
/// Serialises template creation and cloning across test processes (cargo runs test binaries,
/// and nextest runs tests, in parallel processes).
const TEMPLATE_LOCK_KEY: i64 = 0x7a11_7e57;

/// The server the tests use: `TALLY_TEST_DATABASE_URL`, else `DATABASE_URL`, else the private
/// cluster of `scripts/postgres`. Any database on it; tests connect to `postgres` for admin work.
pub fn admin_url() -> String {
    std::env::var("TALLY_TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://tally@127.0.0.1:25432/tally".to_owned())
}

/// A database of its own for one test.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub name: String,
    pub config: Config,
}

impl TestDatabase {
    /// A `postgres://` URL for this database (for the app's configuration or a child process).
    pub fn url(&self) -> String {
        url_for(&self.config, &self.name)
    }

    /// The URL for this database reached through another port (e.g. a [`crate::TcpProxy`]).
    pub fn url_via_port(&self, port: u16) -> String {
        url_with_port(&self.config, &self.name, Some(port))
    }

    pub async fn connect(&self) -> Client {
        connect(&self.config, &self.name).await
    }

    pub fn pool(&self, size_max: usize) -> Pool {
        pool(&self.url(), size_max)
    }
}

/// A deadpool pool for a URL.
pub fn pool(url: &str, size_max: usize) -> Pool {
    let config: Config = url.parse().expect("a valid database URL");
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size_max)
        .build()
        .expect("a pool")
}

/// Creates a new database from the migrated template (building the template first when it is
/// missing or its migrations changed).
pub async fn fresh_database() -> TestDatabase {
    let base: Config = admin_url()
        .parse()
        .expect("TALLY_TEST_DATABASE_URL is a valid URL");
    let admin = connect(&base, "postgres").await;
    admin
        .execute("SELECT pg_advisory_lock($1)", &[&TEMPLATE_LOCK_KEY])
        .await
        .expect("the template lock");
    ensure_template(&admin, &base).await;
    let name = format!("tally_test_{}", uuid::Uuid::new_v4().simple());
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {name} TEMPLATE {TEMPLATE_DATABASE}"
        ))
        .await
        .expect("a database cloned from the template");
    admin
        .execute("SELECT pg_advisory_unlock($1)", &[&TEMPLATE_LOCK_KEY])
        .await
        .expect("the template unlock");
    TestDatabase { name, config: base }
}

async fn ensure_template(admin: &Client, base: &Config) {
    let fingerprint = migrations_fingerprint();
    let current: Option<String> = admin
        .query_opt(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            &[&TEMPLATE_DATABASE],
        )
        .await
        .expect("the template lookup")
        .and_then(|row| row.get(0));
    if current.as_deref() == Some(fingerprint.as_str()) {
        return;
    }
    // Two statements: CREATE and DROP DATABASE refuse to run inside one implicit transaction.
    for statement in [
        format!("DROP DATABASE IF EXISTS {TEMPLATE_DATABASE}"),
        format!("CREATE DATABASE {TEMPLATE_DATABASE}"),
    ] {
        admin
            .batch_execute(&statement)
            .await
            .expect("a new template database");
    }
    {
        let mut client = connect(base, TEMPLATE_DATABASE).await;
        embedded::migrations::runner()
            .run_async(&mut client)
            .await
            .expect("the migrations apply to the template");
    }
    admin
        .batch_execute(&format!(
            "COMMENT ON DATABASE {TEMPLATE_DATABASE} IS '{fingerprint}'"
        ))
        .await
        .expect("the template fingerprint");
}

/// Changes whenever a migration is added or edited, so a stale template is rebuilt.
fn migrations_fingerprint() -> String {
    let mut hasher = DefaultHasher::new();
    for migration in embedded::migrations::runner().get_migrations() {
        migration.version().hash(&mut hasher);
        migration.name().hash(&mut hasher);
        migration.checksum().hash(&mut hasher);
    }
    format!("migrations {:016x}", hasher.finish())
}

async fn connect(base: &Config, database: &str) -> Client {
    let mut config = base.clone();
    config.dbname(database);
    let (client, connection) = config.connect(NoTls).await.unwrap_or_else(|error| {
        panic!(
            "cannot connect to the test PostgreSQL ({error}); start it with `scripts/postgres start`"
        )
    });
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

fn url_for(config: &Config, database: &str) -> String {
    url_with_port(config, database, None)
}

fn url_with_port(config: &Config, database: &str, port: Option<u16>) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "127.0.0.1".to_owned(),
    };
    let port = port.unwrap_or_else(|| config.get_ports().first().copied().unwrap_or(5432));
    let user = config.get_user().unwrap_or("postgres");
    let password = config
        .get_password()
        .map(|password| format!(":{}", String::from_utf8_lossy(password)))
        .unwrap_or_default();
    format!("postgres://{user}{password}@{host}:{port}/{database}")
}
