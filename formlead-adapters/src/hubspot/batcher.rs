//! Merging concurrent calls into HubSpot's batch endpoints.
//!
//! Every operation has a queue and one dispatcher. The dispatcher takes the
//! first waiting call, waits for the budget, then takes whatever else has
//! queued meanwhile (up to the endpoint's 100 inputs) and sends them as one
//! batch. A lone lead on a quiet system goes out at once as a batch of one;
//! under a burst, the calls that queue behind the budget leave together.
//! Each caller gets its own result: the batch function answers per input.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use crate::http::{Op, VendorClient, VendorFailure};

/// Histogram of batch sizes, by `vendor` and `operation`.
pub const BATCH_SIZE_METRIC: &str = "formlead_vendor_batch_size";

/// Most inputs HubSpot's batch endpoints take.
pub const MAX_INPUTS: usize = 100;

type Reply<O> = oneshot::Sender<Result<O, VendorFailure>>;
type BatchFuture<O> = Pin<Box<dyn Future<Output = Vec<Result<O, VendorFailure>>> + Send>>;
/// Sends one batch (its budget already reserved): one result per input, in order.
pub(crate) type BatchFn<I, O> = Arc<dyn Fn(Vec<I>) -> BatchFuture<O> + Send + Sync>;

/// One operation's queue; the dispatcher starts with the first call.
pub(crate) struct Batcher<I, O> {
    client: VendorClient,
    op: Op,
    /// How many of `max` an input takes (a batch read of several ids).
    weight: fn(&I) -> usize,
    run: BatchFn<I, O>,
    tx: OnceLock<mpsc::UnboundedSender<(I, Reply<O>)>>,
}

impl<I, O> std::fmt::Debug for Batcher<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("op", &self.op.name)
            .finish_non_exhaustive()
    }
}

impl<I: Send + 'static, O: Send + 'static> Batcher<I, O> {
    pub fn new(client: VendorClient, op: Op, weight: fn(&I) -> usize, run: BatchFn<I, O>) -> Self {
        Self {
            client,
            op,
            weight,
            run,
            tx: OnceLock::new(),
        }
    }

    /// Queues `input` and waits for its own result.
    pub async fn submit(&self, input: I) -> Result<O, VendorFailure> {
        let (reply, answer) = oneshot::channel();
        let tx = self.tx.get_or_init(|| self.start());
        if tx.send((input, reply)).is_err() {
            return Err(VendorFailure::transient(
                format!("{}: the {} queue stopped", self.client.vendor, self.op.name),
                None,
            ));
        }
        answer.await.unwrap_or_else(|_| {
            Err(VendorFailure::transient(
                format!(
                    "{}: the {} batch was dropped",
                    self.client.vendor, self.op.name
                ),
                None,
            ))
        })
    }

    fn start(&self) -> mpsc::UnboundedSender<(I, Reply<O>)> {
        let (tx, mut rx) = mpsc::unbounded_channel::<(I, Reply<O>)>();
        let (client, op, weight, run) =
            (self.client.clone(), self.op, self.weight, self.run.clone());
        tokio::spawn(async move {
            let mut held: Option<(I, Reply<O>)> = None;
            loop {
                let first = match held.take() {
                    Some(job) => job,
                    None => match rx.recv().await {
                        Some(job) => job,
                        None => return,
                    },
                };
                // Calls queue while the budget makes this one wait.
                client.reserve(op).await;
                let mut load = weight(&first.0);
                let mut jobs = vec![first];
                while let Ok(job) = rx.try_recv() {
                    let w = weight(&job.0);
                    if load + w > MAX_INPUTS {
                        held = Some(job);
                        break;
                    }
                    load += w;
                    jobs.push(job);
                }
                metrics::histogram!(BATCH_SIZE_METRIC, "vendor" => client.label, "operation" => op.name)
                    .record(jobs.len() as f64);
                let (inputs, replies): (Vec<I>, Vec<Reply<O>>) = jobs.into_iter().unzip();
                let n = inputs.len();
                let mut results = run(inputs).await.into_iter();
                for reply in replies {
                    let result = results.next().unwrap_or_else(|| {
                        Err(VendorFailure::permanent(format!(
                            "{}: {} answered fewer results than the {n} inputs",
                            client.vendor, op.name
                        )))
                    });
                    let _ = reply.send(result);
                }
            }
        });
        tx
    }
}
