//! Push-webhook deliveries seen by `kiln server` (`kiln_deliveries`): each delivery id is
//! recorded once, so a replayed delivery is refused, and later linked to the run it caused.
//! Ids are `<forge>:<delivery id>`.

use sqlx::Row;

use super::{Ledger, LedgerError, now_ms};

/// A recorded delivery.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryRow {
    pub id: String,
    /// Unix milliseconds.
    pub received_at: i64,
    pub repository: String,
    pub commit: Option<String>,
    pub run_id: Option<String>,
}

impl Ledger {
    /// Records a delivery. Returns `false`, changing nothing, when the id was seen before.
    pub async fn record_delivery(
        &self,
        id: &str,
        repository: &str,
        commit: Option<&str>,
    ) -> Result<bool, LedgerError> {
        if id.is_empty() {
            return Err(LedgerError::Invalid {
                operation: "record_delivery",
                reason: "empty delivery id".into(),
            });
        }
        let done = sqlx::query(
            "INSERT INTO kiln_deliveries (id, received_at, repository, commit_sha) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(now_ms())
        .bind(repository)
        .bind(commit)
        .execute(self.pool())
        .await
        .map_err(LedgerError::query("record_delivery"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Links a delivery to the run it caused.
    pub async fn set_delivery_run(&self, id: &str, run_id: &str) -> Result<(), LedgerError> {
        sqlx::query("UPDATE kiln_deliveries SET run_id = $1 WHERE id = $2")
            .bind(run_id)
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(LedgerError::query("set_delivery_run"))?;
        Ok(())
    }

    /// Forgets a delivery (one refused after it was recorded, so the forge may redeliver).
    pub async fn forget_delivery(&self, id: &str) -> Result<(), LedgerError> {
        sqlx::query("DELETE FROM kiln_deliveries WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(LedgerError::query("forget_delivery"))?;
        Ok(())
    }

    /// The delivery with this id.
    pub async fn delivery(&self, id: &str) -> Result<Option<DeliveryRow>, LedgerError> {
        let row = sqlx::query(
            "SELECT id, received_at, repository, commit_sha, run_id FROM kiln_deliveries \
             WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(LedgerError::query("delivery"))?;
        let Some(row) = row else { return Ok(None) };
        let get = |e| LedgerError::Query {
            operation: "delivery",
            source: e,
        };
        Ok(Some(DeliveryRow {
            id: row.try_get("id").map_err(get)?,
            received_at: row.try_get("received_at").map_err(get)?,
            repository: row.try_get("repository").map_err(get)?,
            commit: row.try_get("commit_sha").map_err(get)?,
            run_id: row.try_get("run_id").map_err(get)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_delivery_is_recorded_once() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&format!("sqlite://{}/l.db", dir.path().display()))
            .await
            .unwrap();
        assert!(
            l.record_delivery("github:1", "acme/hello", Some("abc"))
                .await
                .unwrap()
        );
        assert!(
            !l.record_delivery("github:1", "acme/hello", Some("abc"))
                .await
                .unwrap()
        );
        assert!(
            l.record_delivery("gitea:1", "acme/hello", None)
                .await
                .unwrap()
        );
        l.set_delivery_run("github:1", "run-1").await.unwrap();
        let d = l.delivery("github:1").await.unwrap().unwrap();
        assert_eq!(d.run_id.as_deref(), Some("run-1"));
        assert_eq!(d.commit.as_deref(), Some("abc"));
        l.forget_delivery("gitea:1").await.unwrap();
        assert!(l.delivery("gitea:1").await.unwrap().is_none());
        assert!(l.record_delivery("", "x", None).await.is_err());
    }
}
