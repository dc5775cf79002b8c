//! A fresh database of a test's own on the machine's PostgreSQL (127.0.0.1:5432, trust auth,
//! or `BLOGFLOW_TEST_POSTGRES_URL`), dropped when the test ends.

/// The administrative connection: the machine's `test` database.
fn admin_url() -> String {
    std::env::var("BLOGFLOW_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Runs `sql` on the administrative connection. The sync client runs a runtime of its own,
/// so it runs on a thread of its own, never on a Tokio worker.
fn admin(sql: String) {
    std::thread::spawn(move || {
        let mut c = ::postgres::Client::connect(&admin_url(), ::postgres::NoTls).expect(
            "PostgreSQL on 127.0.0.1:5432 with trust auth (or set BLOGFLOW_TEST_POSTGRES_URL)",
        );
        c.batch_execute(&sql).unwrap();
    })
    .join()
    .unwrap();
}

/// A database made for one test, dropped (connections and all) with this.
pub struct Database {
    name: String,
    /// `postgres://…/name`, for `DATABASE_URL`.
    pub url: String,
}

impl Database {
    /// Creates one with a unique name.
    pub fn fresh() -> Self {
        let name = format!("bf_test_{}", uuid::Uuid::new_v4().simple());
        admin(format!("CREATE DATABASE {name}"));
        let admin = admin_url();
        let url = format!("{}/{name}", &admin[..admin.rfind('/').unwrap()]);
        Self { name, url }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        admin(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}
