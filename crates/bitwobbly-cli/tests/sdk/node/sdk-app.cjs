// Drives the real `@sentry/node` SDK against `bitwobbly serve` (the `sdk` test of bitwobbly-cli).
//
// Every Sentry feature the SDK has is used the way an application uses it: errors thrown in
// nested functions, a message, an error with a `cause`, a transaction with spans, release-health
// sessions (startSession/endSession, one of them crashed), an attachment with non-UTF-8 bytes,
// cron check-ins with a monitor config, user feedback and structured logs. The DSN comes from
// SENTRY_DSN.
//
// Prints one JSON line on stdout with the ids the test asserts on. Exits non-zero when the SDK
// could not flush or logged a warning or error: the test also reads its debug output on stderr.
'use strict';

const Sentry = require('@sentry/node');

const RELEASE = 'sdk-node@1.0.0';
const ENVIRONMENT = 'sdk-compat';

// Every byte value, then bytes that are not UTF-8 and line endings an attachment must keep.
const ATTACHMENT = Buffer.concat([
  Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256)),
  Buffer.from([0x80, 0x81, 0x20, 0xc3, 0x28, 0x0d, 0x0a, 0x00, 0xff, 0xfe]),
]);

// The SDK's debug logger writes through console. Everything goes to stderr, so that stdout
// carries only the JSON result, and every warning and error it prints is kept.
const toStderr = console.error.bind(console);
const problems = [];
for (const level of ['warn', 'error']) {
  console[level] = (...args) => {
    problems.push(`${level}: ${args.map(a => (a instanceof Error ? a.stack : String(a))).join(' ')}`);
    toStderr(...args);
  };
}
for (const level of ['log', 'info', 'debug']) {
  console[level] = toStderr;
}

function validateCart(cart) {
  throw new TypeError(`cart ${cart} has no items`);
}

function priceCart(cart) {
  validateCart(cart);
}

function handleCheckout(cart) {
  priceCart(cart);
}

function parseQuota(text) {
  throw new RangeError(`quota ${text} out of range`);
}

function loadLimits(text) {
  parseQuota(text);
}

function connectDatabase() {
  try {
    JSON.parse('{"host": ');
  } catch (inner) {
    throw new Error('database connection failed', { cause: inner });
  }
}

function capture(fn, ...args) {
  try {
    fn(...args);
  } catch (e) {
    return Sentry.captureException(e);
  }
  throw new Error(`${fn.name} did not throw`);
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

async function main() {
  Sentry.init({
    dsn: process.env.SENTRY_DSN,
    debug: true,
    release: RELEASE,
    environment: ENVIRONMENT,
    tracesSampleRate: 1.0,
    enableLogs: true,
    sendDefaultPii: true,
    initialScope: { user: { id: 'node-user-1' } },
  });
  const out = { release: RELEASE, environment: ENVIRONMENT };

  // A monitor whose next check-in never comes: the server must judge it missed.
  out.missed_slug = 'node-missed';
  out.missed_check_in = Sentry.captureCheckIn(
    { monitorSlug: 'node-missed', status: 'ok', duration: 0.1 },
    {
      schedule: { type: 'interval', value: 1, unit: 'minute' },
      checkinMargin: 0,
      maxRuntime: 1,
      failureIssueThreshold: 1,
      recoveryThreshold: 1,
    },
  );

  // The same error twice (one issue, count 2), a different error (another issue).
  out.same_error = [capture(handleCheckout, 1), capture(handleCheckout, 2)];
  out.other_error = capture(loadLimits, 'x');
  out.message = Sentry.captureMessage('node message: cache warmed', 'warning');
  out.chained = capture(connectDatabase);

  // An attachment on one event only.
  out.attachment_event = Sentry.withScope(scope => {
    scope.addAttachment({ data: new Uint8Array(ATTACHMENT), filename: 'node-blob.bin', contentType: 'application/octet-stream' });
    scope.setTag('attachment', 'yes');
    return Sentry.captureMessage('node message with attachment');
  });
  out.attachment_hex = ATTACHMENT.toString('hex');

  // A transaction with spans.
  out.transaction = await Sentry.startSpan({ name: 'node-checkout', op: 'task' }, async root => {
    await Sentry.startSpan({ name: 'SELECT * FROM carts', op: 'db.query' }, () => sleep(50));
    await Sentry.startSpan({ name: 'GET /inventory', op: 'http.client' }, () => sleep(20));
    return { name: 'node-checkout', trace_id: root.spanContext().traceId };
  });

  // Cron check-ins: an upsert with a crontab schedule ending ok, another ending in error.
  const nightly = {
    schedule: { type: 'crontab', value: '0 3 * * *' },
    timezone: 'Europe/Berlin',
    checkinMargin: 5,
    maxRuntime: 30,
    failureIssueThreshold: 1,
    recoveryThreshold: 1,
  };
  const started = Sentry.captureCheckIn({ monitorSlug: 'node-nightly', status: 'in_progress' }, nightly);
  Sentry.captureCheckIn({ checkInId: started, monitorSlug: 'node-nightly', status: 'ok', duration: 1.5 });
  out.ok_check_in = started;
  try {
    await Sentry.withMonitor(
      'node-hourly',
      async () => {
        throw new Error('hourly job failed');
      },
      { schedule: { type: 'interval', value: 1, unit: 'hour' }, checkinMargin: 10, maxRuntime: 5 },
    );
  } catch {
    // The job's failure is the point: withMonitor reported it as an error check-in.
  }

  // User feedback about the first error.
  out.feedback = Sentry.captureFeedback({
    message: 'node feedback: the checkout broke',
    name: 'Node User',
    email: 'node@example.com',
    associatedEventId: out.same_error[0],
  });

  // Structured logs.
  Sentry.logger.info(Sentry.logger.fmt`node order ${42} shipped`);
  Sentry.logger.warn('node stock low', { sku: 'A-1' });
  out.logs = ['node order 42 shipped', 'node stock low'];

  // Release health: the process session (user 1) saw the errors above; a second session
  // (user 2) crashes; a third (user 3) ends cleanly.
  // (The user is set on the current scope, where `initialScope` put the first one.) Event
  // processing is asynchronous: flushing lets the crash reach its session before the next one.
  // startSession ends the process session: flush first, so that the errors captured above have
  // been processed and counted in it (under load they may not be yet).
  out.flushed_errors = await Sentry.flush(30000);
  Sentry.getCurrentScope().setUser({ id: 'node-user-2' });
  Sentry.startSession();
  try {
    loadLimits('crash');
  } catch (e) {
    out.crash = Sentry.captureException(e, { data: { mechanism: { type: 'sdk-test', handled: false } } });
  }
  out.flushed_crash = await Sentry.flush(30000);
  Sentry.getCurrentScope().setUser({ id: 'node-user-3' });
  Sentry.startSession();
  Sentry.endSession();

  out.flushed = await Sentry.flush(30000);
  out.closed = await Sentry.close(30000);
  out.problems = problems;
  process.stdout.write(`${JSON.stringify(out)}\n`);
  return out.flushed_errors && out.flushed_crash && out.flushed && out.closed && problems.length === 0
    ? 0
    : 1;
}

main().then(
  code => {
    process.exitCode = code;
  },
  e => {
    console.error(e);
    process.exitCode = 2;
  },
);
