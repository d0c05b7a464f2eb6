//! What is recorded on an incident as work goes on: timeline lines,
//! notes and tasks.

use serde_json::Value;
use time::OffsetDateTime;

use super::checks::{MAX_TEXT, check_len, forbid, people_only, to_json};
use super::visible::{is_participant, load_incident, user_exists};
use crate::access::{Viewer, incident_visible};
use crate::audit::unix_micros;
use crate::backend::rows::{TASK_COLS, TaskRow};
use crate::backend::{Change, SqlStore, Tx, append_audit, exec, fetch_one, now, opt_micros};
use crate::ids::{IncidentId, NoteId, TaskId, TimelineId, UserId};
use crate::incident::{Note, Task};
use crate::query::{Arg, Sql};
use crate::store::{NewTask, Result, StoreError, TaskPatch};

/// Adds a timeline line to `incident` in `tx`.
pub(super) async fn add_timeline(
    tx: &mut Tx,
    incident: IncidentId,
    at: OffsetDateTime,
    actor: UserId,
    kind: &str,
    message: &str,
) -> Result<()> {
    let mut q =
        Sql::new("INSERT INTO timeline (id, incident_id, at, actor, kind, message) VALUES ");
    q.bind_list([
        Arg::from(TimelineId::new().to_string()),
        Arg::from(incident.to_string()),
        Arg::from(unix_micros(at)),
        Arg::from(actor.to_string()),
        Arg::from(kind),
        Arg::from(message),
    ]);
    exec(&mut **tx, &q).await?;
    Ok(())
}

impl SqlStore {
    pub(super) async fn add_note(&self, v: &Viewer, id: IncidentId, body: &str) -> Result<Note> {
        people_only(v)?;
        check_len("note", body, 1, MAX_TEXT)?;
        let mut tx = self.begin().await?;
        load_incident(&mut *tx, v, id).await?;
        forbid(
            v.can_add_notes(),
            "only responders, admins and finance-ops add notes",
        )?;
        let at = now();
        let note = Note {
            id: NoteId::new(),
            incident_id: id,
            author: v.user_id,
            body: body.to_owned(),
            created_at: at,
        };
        let mut q =
            Sql::new("INSERT INTO notes (id, incident_id, author, body, created_at) VALUES ");
        q.bind_list([
            Arg::from(note.id.to_string()),
            Arg::from(id.to_string()),
            Arg::from(v.user_id.to_string()),
            Arg::from(body),
            Arg::from(unix_micros(at)),
        ]);
        exec(&mut *tx, &q).await?;
        add_timeline(&mut tx, id, at, v.user_id, "note", "note added").await?;
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "note.add",
                entity: "note",
                entity_id: note.id.to_string(),
                incident_id: Some(id),
                related_incident_id: None,
                before: Value::Null,
                after: to_json(&note),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(note)
    }

    pub(super) async fn add_task(&self, v: &Viewer, id: IncidentId, new: NewTask) -> Result<Task> {
        people_only(v)?;
        check_len("task title", &new.title, 1, 500)?;
        let mut tx = self.begin().await?;
        let i = self.managed(&mut tx, v, id).await?;
        i.ensure_open()?;
        if let Some(o) = new.owner {
            user_exists(&mut tx, o).await?;
        }
        let at = now();
        let task = Task {
            id: TaskId::new(),
            incident_id: id,
            title: new.title,
            owner: new.owner,
            due_at: new.due_at,
            done: false,
            created_at: at,
        };
        let mut q = Sql::new(
            "INSERT INTO tasks (id, incident_id, title, owner_id, due_at, done, created_at) VALUES ",
        );
        q.bind_list([
            Arg::from(task.id.to_string()),
            Arg::from(id.to_string()),
            Arg::from(task.title.clone()),
            Arg::from(task.owner.map(|o| o.to_string())),
            opt_micros(task.due_at),
            Arg::from(task.done),
            Arg::from(unix_micros(at)),
        ]);
        exec(&mut *tx, &q).await?;
        add_timeline(
            &mut tx,
            id,
            at,
            v.user_id,
            "task",
            &format!("task added: {}", task.title),
        )
        .await?;
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "task.add",
                entity: "task",
                entity_id: task.id.to_string(),
                incident_id: Some(id),
                related_incident_id: None,
                before: Value::Null,
                after: to_json(&task),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(task)
    }

    pub(super) async fn update_task(
        &self,
        v: &Viewer,
        id: TaskId,
        patch: TaskPatch,
    ) -> Result<Task> {
        people_only(v)?;
        let mut tx = self.begin().await?;
        let mut q = Sql::new(&format!(
            "SELECT {TASK_COLS} FROM tasks k JOIN incidents i ON i.id = k.incident_id WHERE k.id = "
        ));
        q.bind(id.to_string()).push(" AND ");
        incident_visible(&mut q, v, "i");
        let before = fetch_one::<_, TaskRow>(&mut *tx, &q, "task").await?;
        if !v.is_staff() && !is_participant(&mut *tx, before.incident_id, v.user_id).await? {
            return Err(StoreError::NotFound("task"));
        }
        forbid(
            v.can_manage_incidents(),
            "only responders and admins change tasks",
        )?;
        let mut after = before.clone();
        if let Some(t) = patch.title {
            check_len("task title", &t, 1, 500)?;
            after.title = t;
        }
        if let Some(o) = patch.owner {
            user_exists(&mut tx, o).await?;
            after.owner = Some(o);
        }
        if let Some(d) = patch.due_at {
            after.due_at = Some(d);
        }
        if let Some(d) = patch.done {
            after.done = d;
        }
        let at = now();
        let mut q = Sql::new("UPDATE tasks SET title = ");
        q.bind(after.title.clone())
            .push(", owner_id = ")
            .bind(after.owner.map(|o| o.to_string()))
            .push(", due_at = ")
            .bind(opt_micros(after.due_at))
            .push(", done = ")
            .bind(after.done)
            .push(" WHERE id = ")
            .bind(id.to_string());
        exec(&mut *tx, &q).await?;
        if after.done && !before.done {
            add_timeline(
                &mut tx,
                after.incident_id,
                at,
                v.user_id,
                "task",
                &format!("task done: {}", after.title),
            )
            .await?;
        }
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "task.update",
                entity: "task",
                entity_id: id.to_string(),
                incident_id: Some(after.incident_id),
                related_incident_id: None,
                before: to_json(&before),
                after: to_json(&after),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }
}
