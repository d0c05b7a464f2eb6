//! One node's part in the cluster: keeps its PostgreSQL session, takes
//! and gives up partition leases towards its fair share, and runs a
//! [`super::partition`] worker for each partition it holds (the source
//! partitions and the keyed stage's partition alike).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::StopFlag;
use super::coord::{self, Coord};
use super::partition::{self, Ctx, Ended};

/// A running partition worker.
struct Running {
    stop: StopFlag,
    thread: JoinHandle<Ended>,
}

/// Runs until the node stops (`ctx.shared.stop`): on the calling thread,
/// blocking on the runtime for each PostgreSQL call.
pub(in crate::ingest) fn run(ctx: Arc<Ctx>) {
    let settings = Arc::clone(&ctx.settings);
    let rt = ctx.runtime.clone();
    let node = settings.node_id.clone();
    // The source partitions and the keyed stage's partitions: leased
    // alike.
    let units = settings.units();
    let prefer = coord::preference(&node, units);
    let mut running: BTreeMap<u32, Running> = BTreeMap::new();
    let mut backoff = Duration::from_millis(200);
    let stopping = || ctx.shared.stop.load(Ordering::Relaxed);
    while !stopping() {
        // Workers that ended by themselves lost their lease (fenced):
        // give the lock up so the partition can be taken again.
        let ended: Vec<u32> = running
            .iter()
            .filter(|(_, r)| r.thread.is_finished())
            .map(|(p, _)| *p)
            .collect();
        for p in ended {
            let r = running.remove(&p).expect("listed");
            let outcome = r.thread.join();
            tracing::info!(partition = p, ?outcome, "partition worker ended");
            release(&ctx, &rt, p);
        }
        // The session, and with it every lease.
        let alive = rt.block_on(async {
            let mut guard = ctx.coord.lock().await;
            match guard.as_mut() {
                Some(c) => match c.ping().await {
                    Ok(()) => true,
                    Err(error) => {
                        tracing::error!(%error, "lost the PostgreSQL session of the partition leases; stopping this node's partitions");
                        *guard = None;
                        false
                    }
                },
                None => false,
            }
        });
        if !alive {
            ctx.stats.postgres_up.store(false, Ordering::Relaxed);
            // The locks went with the session: another node may already
            // run these partitions.
            stop_all(&mut running, false, &ctx);
            let connected = rt.block_on(Coord::connect(
                &settings.database_url,
                &node,
                settings.partitions,
                settings.keyed_partitions,
            ));
            match connected {
                Ok(c) => {
                    tracing::info!("PostgreSQL session of the partition leases open");
                    *rt.block_on(ctx.coord.lock()) = Some(c);
                    backoff = Duration::from_millis(200);
                }
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "cannot open the PostgreSQL session of the partition leases; retrying");
                    wait(&ctx, backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            }
        }
        ctx.stats.postgres_up.store(true, Ordering::Relaxed);
        let view = rt.block_on(async {
            let mut guard = ctx.coord.lock().await;
            let c = guard.as_mut()?;
            let nodes = c.live_nodes().await.ok()?;
            let held = c.held().await.ok()?;
            Some((nodes, held))
        });
        let Some((nodes, held)) = view else {
            wait(&ctx, settings.rebalance_every);
            continue;
        };
        ctx.stats.nodes.store(nodes, Ordering::Relaxed);
        let share = coord::share(units, nodes);
        // Give up the surplus, least preferred first.
        if running.len() > share {
            let surplus: Vec<u32> = prefer
                .iter()
                .rev()
                .copied()
                .filter(|p| running.contains_key(p))
                .take(running.len() - share)
                .collect();
            for p in surplus {
                let r = running.remove(&p).expect("listed");
                r.stop.store(true, Ordering::Relaxed);
                let outcome = r.thread.join();
                tracing::info!(
                    partition = p,
                    nodes,
                    share,
                    ?outcome,
                    "partition handed over"
                );
                release(&ctx, &rt, p);
            }
        }
        // Take free partitions, most preferred first.
        if running.len() < share {
            for &p in &prefer {
                if running.len() >= share {
                    break;
                }
                if held.contains(&p) || running.contains_key(&p) {
                    continue;
                }
                let taken = rt.block_on(async {
                    let mut guard = ctx.coord.lock().await;
                    match guard.as_mut() {
                        Some(c) => c.try_take(p).await.unwrap_or(false),
                        None => false,
                    }
                });
                if taken {
                    ctx.stats.acquired.fetch_add(1, Ordering::Relaxed);
                    let stop: StopFlag = Arc::new(AtomicBool::new(false));
                    let worker_ctx = Arc::clone(&ctx);
                    let worker_stop = Arc::clone(&stop);
                    match std::thread::Builder::new()
                        .name(format!("detect-p{p}"))
                        .spawn(move || partition::run(&worker_ctx, p, &worker_stop))
                    {
                        Ok(thread) => {
                            tracing::info!(partition = p, nodes, share, "partition taken");
                            running.insert(p, Running { stop, thread });
                        }
                        Err(error) => {
                            tracing::error!(partition = p, %error, "cannot start a partition worker");
                            release(&ctx, &rt, p);
                        }
                    }
                }
            }
        }
        wait(&ctx, settings.rebalance_every);
    }
    stop_all(&mut running, true, &ctx);
    tracing::info!("cluster node stopped");
}

/// Stops every worker (each writes a last checkpoint when `checkpoint`
/// and its lease allow) and gives the locks up.
fn stop_all(running: &mut BTreeMap<u32, Running>, release_locks: bool, ctx: &Arc<Ctx>) {
    for r in running.values() {
        r.stop.store(true, Ordering::Relaxed);
    }
    for (p, r) in std::mem::take(running) {
        let _ = r.thread.join();
        ctx.stats.drop_lag(p);
        if release_locks {
            let rt = ctx.runtime.clone();
            release(ctx, &rt, p);
        }
    }
}

/// Gives partition `p`'s lock up (when the session is still open).
fn release(ctx: &Ctx, rt: &tokio::runtime::Handle, p: u32) {
    ctx.stats.drop_lag(p);
    ctx.stats.released.fetch_add(1, Ordering::Relaxed);
    rt.block_on(async {
        let mut guard = ctx.coord.lock().await;
        if let Some(c) = guard.as_mut()
            && let Err(error) = c.release(p).await
        {
            tracing::warn!(partition = p, %error, "cannot release the partition's lock");
        }
    });
}

/// Waits `timeout`, or less when the node stops.
fn wait(ctx: &Ctx, timeout: Duration) {
    ctx.shared.wait_stop(timeout);
}
