// Drives a0sim with the official Auth0 Node SDK and asserts what the SDK
// returns. The SDK builds https://DOMAIN URLs; a fetch wrapper sends token
// requests to a0sim and Management API requests to A0_API_URL (a0sim
// itself, or the Prism proxy in front of it), and records each response's
// Prism violations header for the run script to judge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { ManagementClient, ManagementError } from 'auth0';

const SIM = process.env.A0SIM_URL;
const API = process.env.A0_API_URL ?? SIM;
const DOMAIN = process.env.A0SIM_DOMAIN;
const VIOLATIONS = process.env.A0_VIOLATIONS_FILE;
const RUN = process.env.A0_RUN_TAG ?? 'direct';

async function rewrite(input, init) {
    const url = String(input?.url ?? input);
    const base = url.includes('/oauth/token') ? SIM : API;
    const target = url.replace(`https://${DOMAIN}`, base);
    const res = await fetch(target, init);
    const v = res.headers.get('sl-violations');
    if (v && VIOLATIONS) {
        const path = new URL(target).pathname;
        appendFileSync(VIOLATIONS, JSON.stringify({
            method: init?.method ?? 'GET', path, status: res.status,
            violations: JSON.parse(v),
        }) + '\n');
    }
    return res;
}

const client = new ManagementClient({
    domain: DOMAIN,
    clientId: process.env.A0SIM_CLIENT_ID,
    clientSecret: process.env.A0SIM_CLIENT_SECRET,
    fetch: rewrite,
    telemetry: false,
});

async function sim(path, init) {
    const res = await fetch(SIM + path, init);
    return res.headers.get('content-type')?.includes('json') ? res.json()
                                                             : res.text();
}

async function counter(key) {
    const c = await sim('/__sim/counters');
    return c.requests[key] ?? 0;
}

async function finished(id) {
    for (let i = 0; i < 200; i++) {
        const job = await client.jobs.get(id);
        if (job.status === 'completed' || job.status === 'failed')
            return job;
        await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`job ${id} did not finish`);
}

const tag = `${RUN}${Date.now() % 100000}`;
const email = (n) => `sdk-${tag}-${n}@example.test`;
let conn;

async function importUsers(users, extra = {}) {
    const file = new Blob([JSON.stringify(users)], { type: 'application/json' });
    return client.jobs.usersImports.create({
        users: file, connection_id: conn.id, send_completion_email: false,
        ...extra,
    });
}

test('token grant: the SDK fetches a client-credentials token', async () => {
    const before = await counter('POST /oauth/token 200');
    const page = await client.connections.list({ strategy: ['auth0'] });
    const conns = page.data;
    assert.ok(conns.length >= 1);
    conn = conns.find((c) => c.name === 'Username-Password-Authentication');
    assert.match(conn.id, /^con_[A-Za-z0-9]{16}$/);
    assert.equal(conn.strategy, 'auth0');
    assert.equal(await counter('POST /oauth/token 200'), before + 1);
    const one = await client.connections.get(conn.id);
    assert.deepEqual(one.enabled_clients, [process.env.A0SIM_CLIENT_ID]);
});

test('import with multipart, job polling, errors as an array', async () => {
    const users = [
        { email: email(1), given_name: 'One', user_metadata: { n: 1 } },
        { email: email(2), user_id: `${tag}-2` },
        { email: email(3) },
        { email: 'not-an-email' },
        { email: email(4), logins_count: 3 },
        { email: email(1) },
    ];
    const job = await importUsers(users, { external_id: `ext-${tag}` });
    assert.equal(job.type, 'users_import');
    assert.equal(job.status, 'pending');
    assert.equal(job.connection_id, conn.id);
    assert.equal(job.external_id, `ext-${tag}`);
    assert.match(job.id, /^job_[A-Za-z0-9]{16}$/);
    const done = await finished(job.id);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.summary,
                     { failed: 3, updated: 0, inserted: 3, total: 6 });
    const errors = await client.jobs.errors.get(job.id);
    assert.ok(Array.isArray(errors));
    assert.deepEqual(errors.map((e) => e.errors[0].code),
                     ['FORMAT', 'OBJECT_ADDITIONAL_PROPERTIES',
                      'DUPLICATED_USER']);
    assert.equal(errors[0].errors[0].path, 'email');
    assert.equal(errors[2].errors[0].message,
                 'A user with this email was already provided.');
    assert.equal(errors[1].user.email, email(4));
});

test('errors of a clean job answer 204, which the SDK returns as undefined',
     async () => {
    const job = await importUsers([{ email: email(5) }]);
    const done = await finished(job.id);
    assert.equal(done.summary.inserted, 1);
    assert.equal(await client.jobs.errors.get(job.id), undefined);
});

test('upsert overwrites metadata', async () => {
    const job = await importUsers(
        [{ email: email(1), user_metadata: { m: 2 } }], { upsert: true });
    const done = await finished(job.id);
    assert.deepEqual(done.summary,
                     { failed: 0, updated: 1, inserted: 0, total: 1 });
    const [u] = await client.users.listUsersByEmail({ email: email(1) });
    assert.deepEqual(u.user_metadata, { m: 2 });
});

test('export and download', async () => {
    const job = await client.jobs.usersExports.create({
        connection_id: conn.id, format: 'json',
        fields: [{ name: 'email' }, { name: 'user_id', export_as: 'id' }],
    });
    assert.equal(job.type, 'users_export');
    const done = await finished(job.id);
    assert.equal(done.status, 'completed');
    assert.match(done.location, /\/__exports\/job_[A-Za-z0-9]{16}\.json\.gz\?/);
    const res = await fetch(done.location);
    assert.equal(res.status, 200);
    const lines = gunzipSync(Buffer.from(await res.arrayBuffer()))
        .toString().trim().split('\n').map((l) => JSON.parse(l));
    const mine = lines.filter((l) => l.email?.startsWith(`sdk-${tag}-`));
    assert.equal(mine.length, 4);
    assert.ok(mine.some((l) => l.id === `auth0|${tag}-2`));
    assert.deepEqual(Object.keys(mine[0]).sort(), ['email', 'id']);
});

test('user paging: the SDK walks every page', async () => {
    const page = await client.users.list({
        per_page: 2, include_totals: true, q: `email:sdk-${tag}-*`,
        sort: 'email:1',
    });
    assert.equal(page.data.length, 2);
    assert.equal(page.response.total, 4);
    const seen = [];
    for await (const u of page)
        seen.push(u.email);
    assert.deepEqual(seen, [email(1), email(2), email(3), email(5)]);
});

test('users-by-email is exact and case-sensitive', async () => {
    const users = await client.users.listUsersByEmail({ email: email(2) });
    assert.equal(users.length, 1);
    assert.equal(users[0].user_id, `auth0|${tag}-2`);
    assert.equal(users[0].identities[0].provider, 'auth0');
    const none = await client.users.listUsersByEmail(
        { email: email(2).toUpperCase() });
    assert.deepEqual(none, []);
});

test('PATCH merges metadata', async () => {
    const [u] = await client.users.listUsersByEmail({ email: email(3) });
    const patched = await client.users.update(u.user_id, {
        user_metadata: { lang: 'fr' }, name: 'Three',
    });
    assert.equal(patched.name, 'Three');
    assert.deepEqual(patched.user_metadata, { lang: 'fr' });
});

test('link and unlink', async () => {
    const [p] = await client.users.listUsersByEmail({ email: email(3) });
    const secondary = `auth0|${tag}-2`;
    const ids = await client.users.identities.link(p.user_id, {
        provider: 'auth0', user_id: secondary, connection_id: conn.id,
    });
    assert.equal(ids.length, 2);
    assert.equal(ids[1].user_id, `${tag}-2`);
    assert.equal(ids[1].profileData.email, email(2));
    await assert.rejects(client.users.get(secondary),
                         (e) => e.statusCode === 404);
    const left = await client.users.identities.delete(p.user_id, 'auth0',
                                                       `${tag}-2`);
    assert.equal(left.length, 1);
    const back = await client.users.get(secondary);
    assert.equal(back.email, email(2));
    assert.equal(back.user_metadata, undefined);
});

test('MFA reads', async () => {
    const [u] = await client.users.listUsersByEmail({ email: email(1) });
    assert.deepEqual(await client.users.enrollments.get(u.user_id), []);
});

test('404s carry Auth0 error bodies', async () => {
    await assert.rejects(client.jobs.get('job_AAAAAAAAAAAAAAAA'), (e) => {
        assert.ok(e instanceof ManagementError);
        assert.equal(e.statusCode, 404);
        assert.equal(e.body.message, 'The job does not exist.');
        return true;
    });
    await assert.rejects(client.users.get('auth0|nobody-at-all'), (e) => {
        assert.equal(e.statusCode, 404);
        assert.equal(e.body.errorCode, 'inexistent_user');
        return true;
    });
});

test('a scripted 429 is retried by the SDK', async () => {
    const rule = await sim('/__sim/faults', {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ match: 'GET /api/v2/users/{id}',
                               action: 'rate_limit', count: 1 }),
    });
    assert.equal(rule.length, 1);
    const before429 = await counter('GET /api/v2/users/{id} 429');
    const before200 = await counter('GET /api/v2/users/{id} 200');
    const u = await client.users.get(`auth0|${tag}-2`);
    assert.equal(u.email, email(2));
    assert.equal(await counter('GET /api/v2/users/{id} 429'), before429 + 1);
    assert.equal(await counter('GET /api/v2/users/{id} 200'), before200 + 1);
});

test('DELETE is 204 even for an absent user', async () => {
    const before = await counter('DELETE /api/v2/users/{id} 204');
    assert.equal(await client.users.delete(`auth0|${tag}-gone`), undefined);
    await client.users.delete(`auth0|${tag}-gone`);
    assert.equal(await counter('DELETE /api/v2/users/{id} 204'), before + 2);
});
