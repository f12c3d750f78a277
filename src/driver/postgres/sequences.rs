//! A sequence brought near its maximum by lowering MAXVALUE (MINVALUE for a
//! descending one). last_value never moves: no setval, no RESTART.

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use super::conn::describe;
use super::sessions::value;
use super::{admin_session, PgRun, PgTarget};
use crate::catalog::Action;
use crate::driver::{DriverError, Hold, Plan, Verification};

/// What it takes to undo this family's faults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SequenceUndo {
    /// Put `limit` of `sequence` back to `previous`, or drop the sequence when
    /// chaosdeck created it.
    RestoreLimit {
        sequence: String,
        limit: Limit,
        previous: i64,
        created: bool,
    },
}

/// The end of a sequence the fault moves: MAXVALUE when it ascends, MINVALUE when
/// it descends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Limit {
    Maxvalue,
    Minvalue,
}

impl Limit {
    fn keyword(self) -> &'static str {
        match self {
            Limit::Maxvalue => "MAXVALUE",
            Limit::Minvalue => "MINVALUE",
        }
    }
}

/// A sequence as the catalog and its own relation describe it.
struct SeqState {
    start: i64,
    min: i64,
    max: i64,
    increment: i64,
    cycle: bool,
    may_alter: bool,
    last: i64,
    is_called: bool,
}

impl SeqState {
    /// The state of a sequence `CREATE SEQUENCE` would make.
    fn fresh() -> SeqState {
        SeqState {
            start: 1,
            min: 1,
            max: i64::MAX,
            increment: 1,
            cycle: false,
            may_alter: true,
            last: 1,
            is_called: false,
        }
    }

    /// `None` when the sequence does not exist.
    async fn read(
        client: &Client,
        target: &PgTarget,
        seq: &str,
    ) -> Result<Option<SeqState>, DriverError> {
        let failed =
            |e: tokio_postgres::Error| DriverError::failed(target.conn.masked(), describe(&e));
        let row = client
            .query_opt(
                "SELECT s.seqstart, s.seqmin, s.seqmax, s.seqincrement, s.seqcycle, \
                 pg_has_role(c.relowner, 'USAGE') \
                 FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid \
                 WHERE s.seqrelid = to_regclass($1)",
                &[&seq],
            )
            .await
            .map_err(failed)?;
        let Some(row) = row else { return Ok(None) };
        let now = client
            .query_one(
                format!("SELECT last_value, is_called FROM {seq}").as_str(),
                &[],
            )
            .await
            .map_err(failed)?;
        Ok(Some(SeqState {
            start: row.try_get(0).map_err(failed)?,
            min: row.try_get(1).map_err(failed)?,
            max: row.try_get(2).map_err(failed)?,
            increment: row.try_get(3).map_err(failed)?,
            cycle: row.try_get(4).map_err(failed)?,
            may_alter: row.try_get(5).map_err(failed)?,
            last: now.try_get(0).map_err(failed)?,
            is_called: now.try_get(1).map_err(failed)?,
        }))
    }

    fn limit(&self) -> (Limit, i64) {
        if self.increment > 0 {
            (Limit::Maxvalue, self.max)
        } else {
            (Limit::Minvalue, self.min)
        }
    }

    /// The new limit that leaves exactly `remaining` values, or why there is none.
    fn new_limit(&self, seq: &str, remaining: u64) -> Result<i64, String> {
        let (limit, current) = self.limit();
        if self.cycle {
            return Err(format!(
                "sequence {seq} has CYCLE: at its end it would start over and hand out used values"
            ));
        }
        // Work in the direction of the sequence, so both ends are checked alike.
        let dir = i128::from(self.increment.signum());
        let base = i128::from(self.last)
            - if self.is_called {
                0
            } else {
                i128::from(self.increment)
            };
        let wanted = base + i128::from(remaining) * i128::from(self.increment);
        let left = (i128::from(current) - base) / i128::from(self.increment);
        if wanted * dir > i128::from(current) * dir {
            return Err(format!(
                "sequence {seq} has only {left} values left before its {} {current}: nothing to lower",
                limit.keyword()
            ));
        }
        let other = if dir > 0 { self.min } else { self.max };
        // PostgreSQL wants the limit beyond the other end and not before START or last_value.
        if wanted * dir <= i128::from(other) * dir
            || wanted * dir < i128::from(self.start) * dir
            || wanted * dir < i128::from(self.last) * dir
        {
            return Err(format!(
                "{} {wanted} would cross START {}, last_value {} or the other limit {other} of \
                 sequence {seq}, which PostgreSQL refuses; ask for more remaining values",
                limit.keyword(),
                self.start,
                self.last
            ));
        }
        i64::try_from(wanted).map_err(|_| format!("{} {wanted} is out of range", limit.keyword()))
    }
}

pub(super) async fn plan(
    action: &Action,
    target: &PgTarget,
    _run: &PgRun,
) -> Result<Plan<SequenceUndo>, DriverError> {
    let Action::PgSequenceNearMax(a) = action else {
        return Err(DriverError::Input(format!(
            "not a sequence fault: {}",
            action.kind()
        )));
    };
    let refuse =
        |reason: String| DriverError::precondition(target.conn.masked(), action.kind(), reason);
    let remaining = value(&a.remaining, target)?;
    let seq = &a.sequence;
    let admin = admin_session(target, "plan").await?;
    let found = SeqState::read(&admin, target, seq).await?;
    let created = found.is_none();
    let state = found.unwrap_or_else(SeqState::fresh);
    if !state.may_alter {
        return Err(refuse(format!(
            "role \"{}\" does not own sequence {seq} (ALTER SEQUENCE needs its owner or a superuser)",
            target.conn.user()
        )));
    }
    let new = state.new_limit(seq, remaining).map_err(refuse)?;
    let (limit, previous) = state.limit();
    let kw = limit.keyword();
    let what = if created {
        format!("create sequence {seq} (it does not exist) with {kw} {new}")
    } else {
        format!("lower {kw} of sequence {seq} from {previous} to {new}")
    };
    Ok(Plan {
        undo: SequenceUndo::RestoreLimit {
            sequence: seq.clone(),
            limit,
            previous,
            created,
        },
        blast_radius: format!(
            "{what}: {remaining} more nextval() calls succeed, then \"reached {} value\" \
             (last_value {} stays)",
            if limit == Limit::Maxvalue {
                "maximum"
            } else {
                "minimum"
            },
            state.last
        ),
    })
}

pub(super) async fn apply(
    action: &Action,
    target: &PgTarget,
    _run: &PgRun,
    undo: &SequenceUndo,
) -> Result<Hold, DriverError> {
    let (
        Action::PgSequenceNearMax(a),
        SequenceUndo::RestoreLimit {
            sequence, created, ..
        },
    ) = (action, undo)
    else {
        return Err(DriverError::Input(format!(
            "not a sequence fault: {}",
            action.kind()
        )));
    };
    let admin = admin_session(target, "apply").await?;
    if *created {
        exec(&admin, target, &format!("CREATE SEQUENCE {sequence}")).await?;
    }
    let altered = alter(&admin, target, sequence, value(&a.remaining, target)?).await;
    if altered.is_err() && *created {
        if let Err(e) = exec(
            &admin,
            target,
            &format!("DROP SEQUENCE IF EXISTS {sequence}"),
        )
        .await
        {
            tracing::warn!("{e}");
        }
    }
    altered.map(|()| Hold::new())
}

/// Moves the limit so that `remaining` values are left from the sequence's state now.
async fn alter(
    admin: &Client,
    target: &PgTarget,
    seq: &str,
    remaining: u64,
) -> Result<(), DriverError> {
    let state = SeqState::read(admin, target, seq).await?.ok_or_else(|| {
        DriverError::failed(target.conn.masked(), format!("sequence {seq} is gone"))
    })?;
    let new = state
        .new_limit(seq, remaining)
        .map_err(|why| DriverError::failed(target.conn.masked(), why))?;
    let sql = format!("ALTER SEQUENCE {seq} {} {new}", state.limit().0.keyword());
    exec(admin, target, &sql).await
}

pub(super) async fn undo(undo: &SequenceUndo, target: &PgTarget) -> Result<(), DriverError> {
    let SequenceUndo::RestoreLimit {
        sequence,
        limit,
        previous,
        created,
    } = undo;
    let admin = admin_session(target, "undo").await?;
    if *created {
        return exec(
            &admin,
            target,
            &format!("DROP SEQUENCE IF EXISTS {sequence}"),
        )
        .await;
    }
    if SeqState::read(&admin, target, sequence).await?.is_none() {
        return Ok(()); // dropped by someone else: no limit left to restore
    }
    let sql = format!("ALTER SEQUENCE {sequence} {} {previous}", limit.keyword());
    exec(&admin, target, &sql).await
}

pub(super) async fn verify(
    undo: &SequenceUndo,
    target: &PgTarget,
) -> Result<Verification, DriverError> {
    let SequenceUndo::RestoreLimit {
        sequence,
        limit,
        previous,
        created,
    } = undo;
    let admin = admin_session(target, "verify").await?;
    let state = SeqState::read(&admin, target, sequence).await?;
    let now = state.as_ref().map(|s| match limit {
        Limit::Maxvalue => s.max,
        Limit::Minvalue => s.min,
    });
    Ok(match now {
        Some(_) if *created => Verification::Residual(format!("sequence {sequence} still exists")),
        Some(now) if now != *previous => Verification::Residual(format!(
            "sequence {sequence} has {} {now}, expected {previous}",
            limit.keyword()
        )),
        _ => Verification::Verified,
    })
}

async fn exec(client: &Client, target: &PgTarget, sql: &str) -> Result<(), DriverError> {
    client
        .batch_execute(sql)
        .await
        .map_err(|e| DriverError::failed(target.conn.masked(), format!("{sql}: {}", describe(&e))))
}
