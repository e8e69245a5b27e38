//! The alert store: every incident (opened, held back, silenced, notified, resolved), the
//! notifications owed for each (one per notifier when it opens, one when it resolves, retried
//! with backoff until sent), silences, and an event log per incident. Kept in the metadata
//! store's database (SQLite or PostgreSQL) in tables of its own.

mod db;
mod schema;

use crate::config::{MonitorConfig, Severity};
use crate::error::{MonitorError, Result};
use crate::inputs::Lineage;
use crate::rules::Evaluation;
use crate::silence::Matcher;
use chrono::{DateTime, Utc};
use db::{Db, Dialect, P, Row, Worker, transaction};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn time(v: &db::V) -> Option<DateTime<Utc>> {
    v.i().and_then(DateTime::from_timestamp_micros)
}

fn req_time(v: &db::V) -> DateTime<Utc> {
    time(v).unwrap_or(DateTime::UNIX_EPOCH)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    Open,
    Resolved,
}

impl IncidentState {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::Open => "open",
            IncidentState::Resolved => "resolved",
        }
    }
}

/// An incident held back because of another, as the other one names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldBack {
    pub id: i64,
    pub key: String,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: i64,
    pub key: String,
    pub rule: String,
    pub kind: String,
    pub subject: String,
    pub node: Option<String>,
    pub severity: Severity,
    pub owner: Option<String>,
    pub summary: String,
    pub involved: Vec<String>,
    pub details: serde_json::Value,
    pub state: IncidentState,
    pub opened_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The upstream incident it is held back by (while it is not notified).
    pub inhibited_by: Option<i64>,
    pub silenced_by: Option<i64>,
    /// Its notifications were queued (it was not held back or silenced when it opened, or
    /// stopped being so).
    pub notified: bool,
    pub resolve_notified: bool,
    /// The incidents downstream of this one that it held back.
    pub held_back: Vec<HeldBack>,
}

impl Incident {
    /// `open`, `held back`, `silenced` or `resolved`.
    pub fn status(&self) -> &'static str {
        match self.state {
            IncidentState::Resolved => "resolved",
            IncidentState::Open if self.notified => "open",
            IncidentState::Open if self.inhibited_by.is_some() => "held back",
            IncidentState::Open if self.silenced_by.is_some() => "silenced",
            IncidentState::Open => "open",
        }
    }
}

const INC_COLS: &str = "id, incident_key, rule, kind, subject, node, severity, owner, summary, involved, details, state, opened_at, last_seen_at, resolved_at, inhibited_by, silenced_by, notified, resolve_notified, held_back";

fn incident_from(row: &Row) -> Result<Incident> {
    let bad = |what: &str| MonitorError::Store(format!("unreadable incident row: {what}"));
    Ok(Incident {
        id: row[0].i().ok_or_else(|| bad("id"))?,
        key: row[1].t().ok_or_else(|| bad("incident_key"))?,
        rule: row[2].t().unwrap_or_default(),
        kind: row[3].t().unwrap_or_default(),
        subject: row[4].t().unwrap_or_default(),
        node: row[5].t(),
        severity: row[6]
            .t()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("severity"))?,
        owner: row[7].t(),
        summary: row[8].t().unwrap_or_default(),
        involved: row[9]
            .t()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
        details: row[10]
            .t()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
        state: match row[11].t().as_deref() {
            Some("open") => IncidentState::Open,
            Some("resolved") => IncidentState::Resolved,
            _ => return Err(bad("state")),
        },
        opened_at: req_time(&row[12]),
        last_seen_at: req_time(&row[13]),
        resolved_at: time(&row[14]),
        inhibited_by: row[15].i(),
        silenced_by: row[16].i(),
        notified: row[17].i().unwrap_or(0) != 0,
        resolve_notified: row[18].i().unwrap_or(0) != 0,
        held_back: row[19]
            .t()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: i64,
    pub matcher: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub comment: String,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Silence {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.starts_at <= now && now < self.ends_at
    }
}

const SIL_COLS: &str = "id, matcher, starts_at, ends_at, comment, created_by, created_at";

fn silence_from(row: &Row) -> Silence {
    Silence {
        id: row[0].i().unwrap_or(0),
        matcher: row[1].t().unwrap_or_default(),
        starts_at: req_time(&row[2]),
        ends_at: req_time(&row[3]),
        comment: row[4].t().unwrap_or_default(),
        created_by: row[5].t(),
        created_at: req_time(&row[6]),
    }
}

/// One notification to one notifier: `firing` when the incident opened, `resolved` when it
/// ended. States: `pending` (due at `next_try_at`), `sending` (claimed), `sent`, `failed`
/// (given up after the configured attempts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: i64,
    pub incident_id: i64,
    pub event: String,
    pub notifier: String,
    pub state: String,
    pub attempts: u32,
    pub next_try_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

const DEL_COLS: &str = "id, incident_id, event, notifier, state, attempts, next_try_at, last_error, created_at, sent_at";

fn delivery_from(row: &Row) -> Delivery {
    Delivery {
        id: row[0].i().unwrap_or(0),
        incident_id: row[1].i().unwrap_or(0),
        event: row[2].t().unwrap_or_default(),
        notifier: row[3].t().unwrap_or_default(),
        state: row[4].t().unwrap_or_default(),
        attempts: row[5].i().unwrap_or(0).max(0) as u32,
        next_try_at: req_time(&row[6]),
        last_error: row[7].t(),
        created_at: req_time(&row[8]),
        sent_at: time(&row[9]),
    }
}

/// A line of an incident's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentEvent {
    pub at: DateTime<Utc>,
    /// opened, resolved, held_back, released, silenced, unsilenced, queued, notified,
    /// notify_failed, gave_up, holds_back.
    pub event: String,
    pub detail: String,
}

/// What `pulse alerts list` asks for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IncidentFilter {
    pub open_only: bool,
    /// Opened at or after.
    pub since: Option<DateTime<Utc>>,
    /// 0: 100.
    pub limit: u32,
}

/// What one reconciliation changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReconcileReport {
    pub opened: Vec<String>,
    pub resolved: Vec<String>,
    pub held_back: Vec<String>,
    pub released: Vec<String>,
    pub silenced: Vec<String>,
    /// Notifications queued.
    pub queued: usize,
}

/// A notification claimed for sending, with its incident as it is now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claimed {
    pub delivery: Delivery,
    pub incident: Incident,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: std::time::Duration,
    pub max: std::time::Duration,
    pub attempts: u32,
}

/// Counts for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertStats {
    /// (severity, status) -> open incidents; status is notified, held_back, silenced or
    /// pending (opened, no notifier routed yet).
    pub open: BTreeMap<(String, String), u64>,
    /// State -> notifications.
    pub notifications: BTreeMap<String, u64>,
}

fn event(db: &mut dyn Db, incident: i64, at: i64, kind: &str, detail: &str) -> Result<()> {
    db.execute(
        "INSERT INTO monitor_events (incident_id, at, event, detail) VALUES ($1, $2, $3, $4)",
        &[P::I(incident), P::I(at), P::t(kind), P::t(detail)],
    )?;
    Ok(())
}

fn open_incidents(db: &mut dyn Db) -> Result<Vec<Incident>> {
    db.query(
        &format!("SELECT {INC_COLS} FROM monitor_incidents WHERE state = 'open' ORDER BY id"),
        &[],
    )?
    .iter()
    .map(incident_from)
    .collect()
}

fn get_incident(db: &mut dyn Db, id: i64) -> Result<Option<Incident>> {
    db.query(
        &format!("SELECT {INC_COLS} FROM monitor_incidents WHERE id = $1"),
        &[P::I(id)],
    )?
    .first()
    .map(incident_from)
    .transpose()
}

fn active_silences(db: &mut dyn Db, now: i64) -> Result<Vec<Silence>> {
    Ok(db
        .query(
            &format!(
                "SELECT {SIL_COLS} FROM monitor_silences WHERE starts_at <= $1 AND ends_at > $1 ORDER BY id"
            ),
            &[P::I(now)],
        )?
        .iter()
        .map(silence_from)
        .collect())
}

fn json(v: &impl Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// The incident `x` is held back by: the most upstream of the open (or lately resolved) ones
/// above it in the lineage that are at least as severe.
fn inhibitor(x: &Incident, candidates: &[Incident], lineage: &Lineage) -> Option<i64> {
    let node = x.node.as_deref()?;
    let above: Vec<&Incident> = candidates
        .iter()
        .filter(|y| y.id != x.id && y.severity >= x.severity)
        .filter(|y| {
            y.node
                .as_deref()
                .is_some_and(|n| lineage.downstream_of(node, n) && !lineage.downstream_of(n, node))
        })
        .collect();
    above
        .iter()
        .filter(|y| {
            !above.iter().any(|z| {
                z.id != y.id
                    && match (y.node.as_deref(), z.node.as_deref()) {
                        (Some(a), Some(b)) => lineage.downstream_of(a, b),
                        _ => false,
                    }
            })
        })
        .min_by_key(|y| (y.state != IncidentState::Open, y.opened_at, y.id))
        .map(|y| y.id)
}

/// Cheap to clone: every clone talks to the same connection thread.
#[derive(Clone)]
pub struct AlertStore {
    worker: Arc<Worker>,
    dialect: Dialect,
}

impl std::fmt::Debug for AlertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlertStore({:?})", self.dialect)
    }
}

impl AlertStore {
    /// `sqlite://path` (relative to `project_root` unless absolute) or `postgres://…`: the
    /// orchestrator's metadata URL, so incidents live beside the runs. Creates or upgrades the
    /// `monitor_*` tables.
    pub async fn open(url: &str, project_root: &Path) -> Result<AlertStore> {
        let (dialect, worker) = if let Some(rest) = url.strip_prefix("sqlite://") {
            if rest.is_empty() {
                return Err(MonitorError::Config(vec![
                    "alert store url `sqlite://` names no file".into(),
                ]));
            }
            let p = Path::new(rest);
            let path = if p.is_absolute() {
                p.to_path_buf()
            } else {
                project_root.join(p)
            };
            let w = Worker::start(move || {
                let mut db = db::SqliteDb::open(&path)?;
                schema::migrate(&mut db)?;
                Ok(Box::new(db) as Box<dyn Db>)
            })
            .await?;
            (Dialect::Sqlite, w)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let url = url.to_string();
            let w = Worker::start(move || {
                let mut db = db::PgDb::connect(&url)?;
                schema::migrate(&mut db)?;
                Ok(Box::new(db) as Box<dyn Db>)
            })
            .await?;
            (Dialect::Postgres, w)
        } else {
            return Err(MonitorError::Config(vec![format!(
                "alert store url must start with sqlite:// or postgres://, not `{}`",
                url.split("://").next().unwrap_or(url)
            )]));
        };
        Ok(AlertStore {
            worker: Arc::new(worker),
            dialect,
        })
    }

    async fn tx<T: Send + 'static>(
        &self,
        mut f: impl FnMut(&mut dyn Db) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.worker.call(move |db| transaction(db, &mut f)).await
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Db) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.worker.call(f).await
    }

    /// Brings the incidents up to date with an evaluation, in one transaction: opens incidents
    /// for new alerts, resolves those whose condition ended (only for rules that were judged,
    /// or that are no longer configured), applies silences and inhibition by lineage, and
    /// queues the notifications owed.
    pub async fn reconcile(
        &self,
        eval: &Evaluation,
        config: Arc<MonitorConfig>,
        lineage: Lineage,
        now: DateTime<Utc>,
    ) -> Result<ReconcileReport> {
        let eval = eval.clone();
        let dialect = self.dialect;
        self.tx(move |db| {
            let at = micros(now);
            let mut report = ReconcileReport::default();
            if dialect == Dialect::Postgres {
                db.batch("SELECT pg_advisory_xact_lock(727384503)")?;
            }
            let open = open_incidents(db)?;
            let by_key: HashMap<&str, &Incident> =
                open.iter().map(|i| (i.key.as_str(), i)).collect();
            for a in &eval.alerts {
                if let Some(i) = by_key.get(a.key.as_str()) {
                    db.execute(
                        "UPDATE monitor_incidents SET last_seen_at = $2, severity = $3, owner = $4, summary = $5, \
                           involved = $6, details = $7, node = $8 WHERE id = $1",
                        &[
                            P::I(i.id),
                            P::I(at),
                            P::t(a.severity.as_str()),
                            P::opt_t(a.owner.as_deref()),
                            P::t(&a.summary),
                            P::T(json(&a.involved)),
                            P::T(json(&a.details)),
                            P::opt_t(a.node.as_deref()),
                        ],
                    )?;
                } else {
                    let rows = db.query(
                        "INSERT INTO monitor_incidents (incident_key, rule, kind, subject, node, severity, owner, summary, \
                           involved, details, state, opened_at, last_seen_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, $11) RETURNING id",
                        &[
                            P::t(&a.key),
                            P::t(&a.rule),
                            P::t(a.kind.as_str()),
                            P::t(&a.subject),
                            P::opt_t(a.node.as_deref()),
                            P::t(a.severity.as_str()),
                            P::opt_t(a.owner.as_deref()),
                            P::t(&a.summary),
                            P::T(json(&a.involved)),
                            P::T(json(&a.details)),
                            P::I(at),
                        ],
                    )?;
                    let id = rows
                        .first()
                        .and_then(|r| r[0].i())
                        .ok_or_else(|| MonitorError::Store("an insert returned no id".into()))?;
                    event(db, id, at, "opened", &a.summary)?;
                    report.opened.push(a.key.clone());
                }
            }
            let firing: HashSet<&str> = eval.alerts.iter().map(|a| a.key.as_str()).collect();
            let judged: HashSet<&str> = eval.evaluated.iter().map(String::as_str).collect();
            let configured: HashSet<String> = config.alerts.iter().map(|r| r.name()).collect();
            for i in &open {
                if firing.contains(i.key.as_str()) {
                    continue;
                }
                let why = if judged.contains(i.rule.as_str()) {
                    "the condition no longer holds"
                } else if !configured.contains(&i.rule) {
                    "its rule is no longer configured"
                } else {
                    continue;
                };
                db.execute(
                    "UPDATE monitor_incidents SET state = 'resolved', resolved_at = $2 WHERE id = $1",
                    &[P::I(i.id), P::I(at)],
                )?;
                event(db, i.id, at, "resolved", why)?;
                report.resolved.push(i.key.clone());
            }

            // Silences and inhibition, on the incidents as they are now.
            let open = open_incidents(db)?;
            let grace = chrono::Duration::from_std(config.monitor.inhibit_grace.as_std())
                .unwrap_or_default();
            let mut candidates = open.clone();
            candidates.extend(
                db.query(
                    &format!(
                        "SELECT {INC_COLS} FROM monitor_incidents WHERE state = 'resolved' AND node IS NOT NULL AND resolved_at >= $1"
                    ),
                    &[P::I(micros(now - grace))],
                )?
                .iter()
                .map(incident_from)
                .collect::<Result<Vec<_>>>()?,
            );
            let silences: Vec<(Silence, Option<Matcher>)> = active_silences(db, at)?
                .into_iter()
                .map(|s| {
                    let m = Matcher::parse(&s.matcher).ok();
                    (s, m)
                })
                .collect();
            for i in &open {
                let silence = silences
                    .iter()
                    .find(|(_, m)| m.as_ref().is_some_and(|m| m.matches(i)))
                    .map(|(s, _)| s);
                let silenced_by = silence.map(|s| s.id);
                if silenced_by != i.silenced_by {
                    db.execute(
                        "UPDATE monitor_incidents SET silenced_by = $2 WHERE id = $1",
                        &[P::I(i.id), P::opt_i(silenced_by)],
                    )?;
                    match silence {
                        Some(s) => {
                            event(
                                db,
                                i.id,
                                at,
                                "silenced",
                                &format!("by silence #{} ({}) until {}: {}", s.id, s.matcher, s.ends_at.to_rfc3339(), s.comment),
                            )?;
                            report.silenced.push(i.key.clone());
                        }
                        None => event(db, i.id, at, "unsilenced", "no silence matches it any more")?,
                    }
                }
                // Only an incident nobody was told about yet can be held back.
                let held_by = if i.notified {
                    None
                } else {
                    inhibitor(i, &candidates, &lineage)
                };
                if held_by != i.inhibited_by {
                    db.execute(
                        "UPDATE monitor_incidents SET inhibited_by = $2 WHERE id = $1",
                        &[P::I(i.id), P::opt_i(held_by)],
                    )?;
                    match held_by {
                        Some(up) => {
                            let upstream = get_incident(db, up)?;
                            let up_key = upstream.as_ref().map(|u| u.key.clone()).unwrap_or_default();
                            event(db, i.id, at, "held_back", &format!("downstream of #{up} {up_key}"))?;
                            if let Some(mut u) = upstream
                                && !u.held_back.iter().any(|h| h.id == i.id)
                            {
                                u.held_back.push(HeldBack {
                                    id: i.id,
                                    key: i.key.clone(),
                                    summary: i.summary.clone(),
                                });
                                db.execute(
                                    "UPDATE monitor_incidents SET held_back = $2 WHERE id = $1",
                                    &[P::I(up), P::T(json(&u.held_back))],
                                )?;
                                event(db, up, at, "holds_back", &format!("#{} {}", i.id, i.key))?;
                            }
                            report.held_back.push(i.key.clone());
                        }
                        None => {
                            event(db, i.id, at, "released", "no open upstream incident holds it back any more")?;
                            report.released.push(i.key.clone());
                        }
                    }
                }
                if !i.notified && held_by.is_none() && silenced_by.is_none() {
                    let targets = config.route(i.severity, i.owner.as_deref(), &i.rule);
                    for n in &targets {
                        db.execute(
                            "INSERT INTO monitor_notifications (incident_id, event, notifier, state, attempts, next_try_at, created_at) \
                             VALUES ($1, 'firing', $2, 'pending', 0, $3, $3) ON CONFLICT (incident_id, event, notifier) DO NOTHING",
                            &[P::I(i.id), P::t(n), P::I(at)],
                        )?;
                    }
                    db.execute(
                        "UPDATE monitor_incidents SET notified = 1 WHERE id = $1",
                        &[P::I(i.id)],
                    )?;
                    let detail = if targets.is_empty() {
                        "no route sends it to any notifier".to_string()
                    } else {
                        format!("to {}", targets.join(", "))
                    };
                    event(db, i.id, at, "queued", &detail)?;
                    report.queued += targets.len();
                }
            }

            // The resolve notifications owed: to every notifier told of the incident.
            let owed = db.query(
                "SELECT id FROM monitor_incidents WHERE state = 'resolved' AND notified = 1 AND resolve_notified = 0",
                &[],
            )?;
            for row in owed {
                let Some(id) = row[0].i() else { continue };
                let told = db.query(
                    "SELECT notifier FROM monitor_notifications WHERE incident_id = $1 AND event = 'firing' ORDER BY id",
                    &[P::I(id)],
                )?;
                let mut names = Vec::new();
                for r in told {
                    if let Some(n) = r[0].t() {
                        db.execute(
                            "INSERT INTO monitor_notifications (incident_id, event, notifier, state, attempts, next_try_at, created_at) \
                             VALUES ($1, 'resolved', $2, 'pending', 0, $3, $3) ON CONFLICT (incident_id, event, notifier) DO NOTHING",
                            &[P::I(id), P::t(&n), P::I(at)],
                        )?;
                        names.push(n);
                    }
                }
                db.execute(
                    "UPDATE monitor_incidents SET resolve_notified = 1 WHERE id = $1",
                    &[P::I(id)],
                )?;
                if !names.is_empty() {
                    event(db, id, at, "queued", &format!("resolved, to {}", names.join(", ")))?;
                    report.queued += names.len();
                }
            }
            Ok(report)
        })
        .await
    }

    /// Claims up to `limit` notifications due at `now` (and those whose sender's lease ran
    /// out), each for `lease`. A resolve notification waits until its notifier's firing one is
    /// settled, so they arrive in order.
    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: std::time::Duration,
    ) -> Result<Vec<Claimed>> {
        let dialect = self.dialect;
        self.tx(move |db| {
            let at = micros(now);
            let until = at + i64::try_from(lease.as_micros()).unwrap_or(i64::MAX / 4);
            let lock = match dialect {
                Dialect::Postgres => " FOR UPDATE OF n SKIP LOCKED",
                Dialect::Sqlite => "",
            };
            let rows = db.query(
                &format!(
                    "SELECT n.id FROM monitor_notifications n \
                     WHERE ((n.state = 'pending' AND n.next_try_at <= $1) OR (n.state = 'sending' AND n.lease_until < $1)) \
                       AND NOT (n.event = 'resolved' AND EXISTS (SELECT 1 FROM monitor_notifications f \
                         WHERE f.incident_id = n.incident_id AND f.notifier = n.notifier AND f.event = 'firing' \
                           AND f.state IN ('pending', 'sending'))) \
                     ORDER BY n.id LIMIT $2{lock}"
                ),
                &[P::I(at), P::I(limit as i64)],
            )?;
            let mut out = Vec::new();
            for row in rows {
                let Some(id) = row[0].i() else { continue };
                let claimed = db.query(
                    &format!(
                        "UPDATE monitor_notifications SET state = 'sending', lease_until = $2, attempts = attempts + 1 \
                         WHERE id = $1 RETURNING {DEL_COLS}"
                    ),
                    &[P::I(id), P::I(until)],
                )?;
                let Some(d) = claimed.first().map(delivery_from) else {
                    continue;
                };
                let Some(incident) = get_incident(db, d.incident_id)? else {
                    continue;
                };
                out.push(Claimed {
                    delivery: d,
                    incident,
                });
            }
            Ok(out)
        })
        .await
    }

    /// Records how sending a claimed notification went: sent; or pending again after the
    /// backoff; or failed once its attempts are used up. Returns the new state (None when the
    /// claim was no longer this sender's).
    pub async fn finish(
        &self,
        d: &Delivery,
        outcome: std::result::Result<(), String>,
        now: DateTime<Utc>,
        retry: RetryPolicy,
    ) -> Result<Option<String>> {
        let d = d.clone();
        self.tx(move |db| {
            let at = micros(now);
            let guard = "WHERE id = $1 AND state = 'sending' AND attempts = $2";
            let key = [P::I(d.id), P::I(i64::from(d.attempts))];
            let (state, n) = match &outcome {
                Ok(()) => {
                    let mut p = key.to_vec();
                    p.push(P::I(at));
                    let n = db.execute(
                        &format!("UPDATE monitor_notifications SET state = 'sent', sent_at = $3, lease_until = NULL, last_error = NULL {guard}"),
                        &p,
                    )?;
                    if n > 0 {
                        event(db, d.incident_id, at, "notified", &format!("{} via {}", d.event, d.notifier))?;
                    }
                    ("sent", n)
                }
                Err(e) if d.attempts >= retry.attempts => {
                    let mut p = key.to_vec();
                    p.push(P::t(e));
                    let n = db.execute(
                        &format!("UPDATE monitor_notifications SET state = 'failed', lease_until = NULL, last_error = $3 {guard}"),
                        &p,
                    )?;
                    if n > 0 {
                        event(
                            db,
                            d.incident_id,
                            at,
                            "gave_up",
                            &format!("{} via {} after {} attempts: {e}", d.event, d.notifier, d.attempts),
                        )?;
                    }
                    ("failed", n)
                }
                Err(e) => {
                    let wait = pulse_orchestrate::backoff_delay(retry.base, retry.max, d.attempts);
                    let next = now + chrono::Duration::from_std(wait).unwrap_or_default();
                    let mut p = key.to_vec();
                    p.extend([P::t(e), P::I(micros(next))]);
                    let n = db.execute(
                        &format!("UPDATE monitor_notifications SET state = 'pending', lease_until = NULL, last_error = $3, next_try_at = $4 {guard}"),
                        &p,
                    )?;
                    if n > 0 {
                        event(
                            db,
                            d.incident_id,
                            at,
                            "notify_failed",
                            &format!(
                                "{} via {} (attempt {}): {e}; next try at {}",
                                d.event,
                                d.notifier,
                                d.attempts,
                                next.to_rfc3339()
                            ),
                        )?;
                    }
                    ("pending", n)
                }
            };
            Ok((n > 0).then(|| state.to_string()))
        })
        .await
    }

    /// Newest first.
    pub async fn list(&self, filter: &IncidentFilter) -> Result<Vec<Incident>> {
        let f = filter.clone();
        self.read(move |db| {
            let limit = if f.limit == 0 { 100 } else { i64::from(f.limit) };
            let since = f.since.map(micros).unwrap_or(i64::MIN);
            let state = if f.open_only { "open" } else { "%" };
            db.query(
                &format!(
                    "SELECT {INC_COLS} FROM monitor_incidents WHERE state LIKE $1 AND opened_at >= $2 \
                     ORDER BY opened_at DESC, id DESC LIMIT $3"
                ),
                &[P::t(state), P::I(since), P::I(limit)],
            )?
            .iter()
            .map(incident_from)
            .collect()
        })
        .await
    }

    pub async fn incident(&self, id: i64) -> Result<Option<Incident>> {
        self.read(move |db| get_incident(db, id)).await
    }

    /// The open incident with this key, or the newest resolved one.
    pub async fn incident_by_key(&self, key: &str) -> Result<Option<Incident>> {
        let key = key.to_string();
        self.read(move |db| {
            db.query(
                &format!(
                    "SELECT {INC_COLS} FROM monitor_incidents WHERE incident_key = $1 \
                     ORDER BY CASE WHEN state = 'open' THEN 0 ELSE 1 END, id DESC LIMIT 1"
                ),
                &[P::t(&key)],
            )?
            .first()
            .map(incident_from)
            .transpose()
        })
        .await
    }

    /// The incident's history, oldest first.
    pub async fn events(&self, incident_id: i64) -> Result<Vec<IncidentEvent>> {
        self.read(move |db| {
            Ok(db
                .query(
                    "SELECT at, event, detail FROM monitor_events WHERE incident_id = $1 ORDER BY id",
                    &[P::I(incident_id)],
                )?
                .iter()
                .map(|r| IncidentEvent {
                    at: req_time(&r[0]),
                    event: r[1].t().unwrap_or_default(),
                    detail: r[2].t().unwrap_or_default(),
                })
                .collect())
        })
        .await
    }

    /// The incident's notifications.
    pub async fn deliveries(&self, incident_id: i64) -> Result<Vec<Delivery>> {
        self.read(move |db| {
            Ok(db
                .query(
                    &format!(
                        "SELECT {DEL_COLS} FROM monitor_notifications WHERE incident_id = $1 ORDER BY id"
                    ),
                    &[P::I(incident_id)],
                )?
                .iter()
                .map(delivery_from)
                .collect())
        })
        .await
    }

    /// Silences the incidents `matcher` matches (see [`Matcher`]) from `now` until `until`;
    /// it takes effect at the next evaluation. An incident silenced before it is notified is
    /// not notified while the silence lasts.
    pub async fn silence(
        &self,
        matcher: &str,
        until: DateTime<Utc>,
        comment: &str,
        created_by: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Silence> {
        let m = Matcher::parse(matcher)?;
        if until <= now {
            return Err(MonitorError::Matcher {
                matcher: matcher.to_string(),
                message: "the silence would end before it starts".into(),
            });
        }
        let (text, comment, by) = (
            m.to_string(),
            comment.to_string(),
            created_by.map(str::to_string),
        );
        self.tx(move |db| {
            let rows = db.query(
                &format!(
                    "INSERT INTO monitor_silences (matcher, starts_at, ends_at, comment, created_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $2) RETURNING {SIL_COLS}"
                ),
                &[
                    P::t(&text),
                    P::I(micros(now)),
                    P::I(micros(until)),
                    P::t(&comment),
                    P::opt_t(by.as_deref()),
                ],
            )?;
            rows.first()
                .map(silence_from)
                .ok_or_else(|| MonitorError::Store("an insert returned no row".into()))
        })
        .await
    }

    /// Active silences, or all of them, newest first.
    pub async fn silences(
        &self,
        include_expired: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Silence>> {
        self.read(move |db| {
            let since = if include_expired { i64::MIN } else { micros(now) };
            Ok(db
                .query(
                    &format!(
                        "SELECT {SIL_COLS} FROM monitor_silences WHERE ends_at > $1 ORDER BY id DESC"
                    ),
                    &[P::I(since)],
                )?
                .iter()
                .map(silence_from)
                .collect())
        })
        .await
    }

    /// Ends a silence now.
    pub async fn expire_silence(&self, id: i64, now: DateTime<Utc>) -> Result<Silence> {
        self.tx(move |db| {
            let rows = db.query(
                &format!(
                    "UPDATE monitor_silences SET ends_at = CASE WHEN ends_at > $2 THEN $2 ELSE ends_at END \
                     WHERE id = $1 RETURNING {SIL_COLS}"
                ),
                &[P::I(id), P::I(micros(now))],
            )?;
            rows.first()
                .map(silence_from)
                .ok_or_else(|| MonitorError::NotFound {
                    what: "silence",
                    name: format!("#{id}"),
                })
        })
        .await
    }

    pub async fn stats(&self) -> Result<AlertStats> {
        self.read(|db| {
            let mut s = AlertStats::default();
            for i in open_incidents(db)? {
                let status = if i.notified {
                    "notified"
                } else if i.inhibited_by.is_some() {
                    "held_back"
                } else if i.silenced_by.is_some() {
                    "silenced"
                } else {
                    "pending"
                };
                *s.open
                    .entry((i.severity.as_str().to_string(), status.to_string()))
                    .or_default() += 1;
            }
            for state in ["pending", "sending", "sent", "failed"] {
                s.notifications.insert(state.to_string(), 0);
            }
            for r in db.query(
                "SELECT state, COUNT(*) FROM monitor_notifications GROUP BY state",
                &[],
            )? {
                if let (Some(state), Some(n)) = (r[0].t(), r[1].i()) {
                    s.notifications.insert(state, n.max(0) as u64);
                }
            }
            Ok(s)
        })
        .await
    }
}
