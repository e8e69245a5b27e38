//! The monitor as `pulse serve` drives it: evaluate the rules against the metadata store,
//! reconcile the incidents, send what is due; and render `/metrics`.

use crate::alerts::{AlertStore, Claimed, ReconcileReport, RetryPolicy};
use crate::config::{AlertRuleConfig, MonitorConfig};
use crate::error::Result;
use crate::history::History;
use crate::inputs::{Lineage, MonitorInputs};
use crate::notify::{Notification, Notifier, Notifiers};
use crate::overview::Overview;
use crate::rules::{Evaluation, cost_window_start, evaluate};
use crate::telemetry::Telemetry;
use chrono::{DateTime, Utc};
use pulse_orchestrate::Store;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

const BATCH: usize = 32;
const MAX_BATCHES: usize = 16;

/// One notification's fate in a dispatch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sent {
    pub incident: String,
    pub notifier: String,
    /// `firing` or `resolved`.
    pub event: String,
    /// None when delivered.
    pub error: Option<String>,
    /// `sent`, `pending` (to be retried) or `failed` (given up).
    pub state: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DispatchReport {
    pub attempts: Vec<Sent>,
}

impl DispatchReport {
    pub fn sent(&self) -> usize {
        self.attempts.iter().filter(|a| a.error.is_none()).count()
    }

    pub fn failed(&self) -> usize {
        self.attempts.iter().filter(|a| a.error.is_some()).count()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TickReport {
    pub evaluation: Evaluation,
    pub reconcile: ReconcileReport,
    pub dispatch: DispatchReport,
}

pub struct Monitor {
    config: Arc<MonitorConfig>,
    store: Store,
    alerts: AlertStore,
    notifiers: Notifiers,
    telemetry: Telemetry,
    project: Option<String>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("store", &self.store)
            .field("alerts", &self.alerts)
            .field("notifiers", &self.notifiers)
            .finish()
    }
}

impl Monitor {
    /// Checks the configuration and builds the notifiers.
    pub fn new(config: MonitorConfig, store: Store, alerts: AlertStore) -> Result<Monitor> {
        config.validate()?;
        let notifiers = Notifiers::from_config(&config.notifiers, config.monitor.timeout.as_std());
        Ok(Monitor {
            config: Arc::new(config),
            store,
            alerts,
            notifiers,
            telemetry: Telemetry::new(),
            project: None,
        })
    }

    /// Opens the alert store in `[monitor] store`, or else beside the runs at `metadata_url`
    /// (the orchestrator's `metadata`).
    pub async fn open(
        config: MonitorConfig,
        store: Store,
        metadata_url: &str,
        project_root: &Path,
    ) -> Result<Monitor> {
        config.validate()?;
        let url = config
            .monitor
            .store
            .clone()
            .unwrap_or_else(|| metadata_url.to_string());
        let alerts = AlertStore::open(&url, project_root).await?;
        Monitor::new(config, store, alerts)
    }

    /// The project's name, shown in every notification.
    pub fn with_project(mut self, name: &str) -> Monitor {
        self.project = Some(name.to_string());
        self
    }

    /// A notifier of the caller's own (or a replacement for a configured one), by its name.
    pub fn with_notifier(mut self, n: Arc<dyn Notifier>) -> Monitor {
        self.notifiers.insert(n);
        self
    }

    pub fn config(&self) -> &MonitorConfig {
        &self.config
    }

    pub fn alerts(&self) -> &AlertStore {
        &self.alerts
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The history the rules need at `now`: the newest `history_runs` runs, and back to the
    /// start of the cost rules' windows (and `extra_since`, if given).
    pub async fn history(
        &self,
        now: DateTime<Utc>,
        extra_since: Option<DateTime<Utc>>,
    ) -> Result<History> {
        let since = self
            .config
            .alerts
            .iter()
            .filter_map(|r| cost_window_start(r, now))
            .chain(extra_since)
            .min();
        History::load(
            &self.store,
            self.config.monitor.history_runs as usize,
            since,
        )
        .await
    }

    /// The alerts firing at `now`, and the lineage they were judged with.
    pub async fn evaluate(
        &self,
        inputs: &MonitorInputs,
        now: DateTime<Utc>,
    ) -> Result<(Evaluation, Lineage)> {
        let history = self.history(now, None).await?;
        let eval = evaluate(&self.config, &history, inputs, now);
        let lineage = Lineage::new(
            history.latest_instances(),
            inputs,
            self.config.monitor.default_owner.clone(),
        );
        Ok((eval, lineage))
    }

    /// One round, every `[monitor] interval`: evaluate, reconcile the incidents, and send the
    /// notifications due (new ones, resolutions, and retries whose backoff has passed).
    pub async fn tick(&self, inputs: &MonitorInputs, now: DateTime<Utc>) -> Result<TickReport> {
        let (evaluation, lineage) = self.evaluate(inputs, now).await?;
        let reconcile = self
            .alerts
            .reconcile(&evaluation, self.config.clone(), lineage, now)
            .await?;
        for key in &reconcile.opened {
            tracing::info!(incident = %key, "incident opened");
        }
        for key in &reconcile.resolved {
            tracing::info!(incident = %key, "incident resolved");
        }
        let dispatch = self.dispatch(now).await?;
        Ok(TickReport {
            evaluation,
            reconcile,
            dispatch,
        })
    }

    /// Sends every notification due at `now`, notifiers in parallel, and records each outcome.
    pub async fn dispatch(&self, now: DateTime<Utc>) -> Result<DispatchReport> {
        let timeout = self.config.monitor.timeout.as_std();
        let lease = timeout * 2 + std::time::Duration::from_secs(60);
        let retry = RetryPolicy {
            base: self.config.monitor.retry_delay.as_std(),
            max: self.config.monitor.max_retry_delay.as_std(),
            attempts: self.config.monitor.notify_attempts,
        };
        let mut report = DispatchReport::default();
        for _ in 0..MAX_BATCHES {
            let claimed = self.alerts.claim_due(now, BATCH, lease).await?;
            if claimed.is_empty() {
                break;
            }
            let mut running = Vec::new();
            for c in claimed {
                let notifier = self.notifiers.get(&c.delivery.notifier);
                let n = Notification::new(
                    &c.delivery.event,
                    self.project.as_deref(),
                    c.incident.clone(),
                );
                let handle = tokio::task::spawn_blocking(move || match notifier {
                    Some(notifier) => notifier.send(&n),
                    None => Err("no notifier of this name is configured".to_string()),
                });
                running.push((c, handle));
            }
            for (Claimed { delivery, incident }, handle) in running {
                let outcome = handle
                    .await
                    .unwrap_or_else(|e| Err(format!("the notifier thread failed: {e}")));
                if let Err(e) = &outcome {
                    tracing::warn!(incident = %incident.key, notifier = %delivery.notifier, attempt = delivery.attempts, "notification failed: {e}");
                }
                let state = self
                    .alerts
                    .finish(&delivery, outcome.clone(), now, retry)
                    .await?;
                report.attempts.push(Sent {
                    incident: incident.key.clone(),
                    notifier: delivery.notifier.clone(),
                    event: delivery.event.clone(),
                    error: outcome.err(),
                    state: state.unwrap_or_else(|| "taken over".into()),
                });
            }
        }
        Ok(report)
    }

    /// `/metrics` (serve it with [`crate::prometheus::CONTENT_TYPE`]).
    pub async fn metrics(&self, inputs: &MonitorInputs, now: DateTime<Utc>) -> Result<String> {
        self.telemetry
            .render(&self.store, Some(&self.alerts), inputs, now)
            .await
    }

    /// Everything the operator page shows, at `now`.
    pub async fn overview(&self, inputs: &MonitorInputs, now: DateTime<Utc>) -> Result<Overview> {
        let since = now - chrono::Duration::days(crate::overview::TREND_DAYS);
        let history = self.history(now, Some(since)).await?;
        let open = self
            .alerts
            .list(&crate::alerts::IncidentFilter {
                open_only: true,
                since: None,
                limit: 500,
            })
            .await?;
        Ok(crate::overview::build(
            &self.config,
            &history,
            inputs,
            open,
            now,
        ))
    }

    /// The cost rules' view of this month.
    pub async fn cost(&self, now: DateTime<Utc>) -> Result<Vec<crate::rules::CostReport>> {
        let history = self.history(now, None).await?;
        Ok(self
            .config
            .alerts
            .iter()
            .filter(|r| matches!(r, AlertRuleConfig::Cost { .. }))
            .filter_map(|r| crate::rules::cost_report(&history, r, now))
            .collect())
    }
}
