// Node BullMQ side of the interop tests in tests/redis_queue.rs.
//
//   node bullmq_interop.mjs produce  <redis-url> <prefix>  adds a content_generation job in the
//        original system's data shape, waits for blogflow to finish it, prints {id, state,
//        returnvalue, attemptsMade} as JSON
//   node bullmq_interop.mjs consume  <redis-url> <prefix> <queue> <count>  runs a Node Worker
//        that doubles data.n for <count> jobs, then prints {processed, names}
import { Queue, QueueEvents, Worker, Job } from 'bullmq';

const [mode, url, prefix, ...rest] = process.argv.slice(2);
const u = new URL(url);
const connection = { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null };

if (mode === 'produce') {
  const queue = new Queue('content-generation', { connection, prefix });
  const events = new QueueEvents('content-generation', { connection, prefix });
  await events.waitUntilReady();
  const job = await queue.add(
    'content_generation',
    {
      id: 'job_node_1',
      type: 'content_generation',
      payload: { count: 2, quality: 'high', category: 'AI' },
      priority: 1,
      retries: 3,
      delay: 0,
      createdAt: new Date().toISOString(),
    },
    { attempts: 3, backoff: { type: 'exponential', delay: 1000 } },
  );
  const returnvalue = await job.waitUntilFinished(events, 120_000);
  const stored = await Job.fromId(queue, job.id);
  console.log(JSON.stringify({
    id: job.id,
    state: await stored.getState(),
    returnvalue,
    stored_returnvalue: stored.returnvalue,
    attemptsMade: stored.attemptsMade,
    finishedOn: stored.finishedOn,
  }));
  await events.close();
  await queue.close();
} else if (mode === 'consume') {
  const [queueName, count] = rest;
  const want = Number(count);
  const names = [];
  let done;
  const finished = new Promise((r) => (done = r));
  const worker = new Worker(
    queueName,
    async (job) => {
      names.push(job.name);
      return { doubled: job.data.n * 2, attempt: job.attemptsMade + 1 };
    },
    { connection, prefix, concurrency: 2 },
  );
  worker.on('completed', () => { if (names.length >= want) done(); });
  await finished;
  await worker.close();
  console.log(JSON.stringify({ processed: names.length, names }));
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
