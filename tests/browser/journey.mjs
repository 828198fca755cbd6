// The invitee's journey in real headless Chromium, against a real `roster demo` on a free
// port: an Admin invites through GraphQL, the invitation is read in the demo's mailbox
// (/demo/mail), its accept link opens the accept page, the name is filled in and accepted,
// and the new user exists. A dead link shows only "no longer valid". Every step leaves a
// screenshot in tests/browser/screenshots/.
//
//   ROSTER_BIN=target/debug/roster CHROMIUM=/usr/bin/chromium node journey.mjs
//
// tests/browser/run installs what this needs and runs it (.ci/run calls that).

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.ROSTER_BIN ?? join(here, "../../target/debug/roster");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = join(here, "screenshots");
const INVALID = "This invitation link is no longer valid";

rmSync(SHOTS, { recursive: true, force: true });
mkdirSync(SHOTS, { recursive: true });
const work = mkdtempSync(join(tmpdir(), "roster-browser-"));

/** Starts `roster demo` on port 0; resolves with its base URL and the Admin's token. */
function startDemo() {
  const child = spawn(BIN, ["demo"], {
    env: {
      PATH: process.env.PATH,
      ROSTER_LISTEN: "127.0.0.1:0",
      ROSTER_DEMO_DB: join(work, "demo.db"),
      RUST_LOG: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not start:\n${out}\n${err}`)), 90_000);
    child.on("exit", (code) => reject(new Error(`demo exited with ${code}:\n${out}\n${err}`)));
    child.stdout.on("data", (d) => {
      out += d;
      const url = out.match(/GraphiQL[^\n]*: (http:\/\/127\.0\.0\.1:(\d+))\/graphql/);
      const admin = out.match(/^Admin +\S+ +Authorization: Bearer (\S+)$/m);
      if (url && admin && /^Sender/m.test(out)) {
        clearTimeout(timer);
        assert.notEqual(url[2], "0", "the demo prints the port it got, not port 0");
        resolve({ base: url[1], adminToken: admin[1] });
      }
    });
  });
  return { child, ready };
}

async function gql(base, token, query, variables = {}) {
  const res = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  assert.ok(!body.errors, JSON.stringify(body.errors));
  return body.data;
}

async function waitReady(base) {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("demo server not ready");
}

const { child, ready } = startDemo();
let browser;
let step = 0;
try {
  const { base, adminToken } = await ready;
  await waitReady(base);
  console.log(`roster demo at ${base}`);

  // 1. The Admin invites Grace into Platform as a Sender, through the API.
  const lookup = await gql(
    base,
    adminToken,
    `query Lookup { teams(filter: { search: "platform" }) { nodes { id name } } roles { id key } }`,
  );
  const team = lookup.teams.nodes[0];
  const sender = lookup.roles.find((r) => r.key === "SENDER");
  const invited = await gql(
    base,
    adminToken,
    `mutation Invite($team: ID!, $role: ID!) {
       inviteUsers(input: { invitations: [{ email: "grace.hopper@acme.example", teamId: $team, roleId: $role }] }) {
         invites { id status } errors { code message }
       }
     }`,
    { team: team.id, role: sender.id },
  );
  assert.deepEqual(invited.inviteUsers.errors, []);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const shot = async (name) => {
    step += 1;
    const file = join(SHOTS, `${String(step).padStart(2, "0")}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`  screenshot ${file}`);
  };

  // 2. The email arrives in the demo's mailbox (the outbox worker sends within a second).
  let found = false;
  for (let i = 0; i < 40 && !found; i++) {
    await page.goto(`${base}/demo/mail`);
    found = (await page.locator("td.to", { hasText: "grace.hopper@acme.example" }).count()) > 0;
    if (!found) await page.waitForTimeout(250);
  }
  assert.ok(found, "the invitation shows up in /demo/mail");
  await shot("mailbox");

  // 3. Open it: the accept link is there.
  await page
    .locator("tr.mail", { hasText: "grace.hopper@acme.example" })
    .getByRole("link")
    .first()
    .click();
  await page.locator("#accept-link").waitFor();
  assert.match(await page.locator("#subject").innerText(), /invited to join Acme Corporation/);
  // The HTML part, as the recipient's mail client would show it (sandboxed frame).
  await page.frameLocator("iframe").getByText("Accept invitation").waitFor();
  await shot("email");

  // 4. Follow the link: the page says who invited whom, where, with which role.
  await page.locator("#accept-link").click();
  await page.waitForURL(/\/accept-invite\?token=/);
  const acceptUrl = page.url();
  const summary = await page.locator("#invite-summary").innerText();
  assert.match(summary, /Ada Lovelace invited you/);
  assert.match(summary, /Platform/);
  assert.match(summary, /Sender/);
  assert.equal(await page.locator("#invite-email").innerText(), "grace.hopper@acme.example");
  await shot("accept-page");

  // 5. An empty name is refused in the page; then Grace fills it in and accepts.
  await page.getByRole("button", { name: "Accept invitation" }).click();
  assert.match(await page.locator("#form-error").innerText(), /enter your name/);
  await page.getByLabel("Your name").fill("Grace Hopper");
  await shot("name-filled");
  await page.getByRole("button", { name: "Accept invitation" }).click();
  await page.locator("#accepted").waitFor({ state: "visible" });
  assert.match(await page.locator("#accepted-title").innerText(), /Welcome, Grace Hopper!/);
  const header = JSON.parse(await page.locator("#accepted-header").innerText());
  assert.match(header.Authorization, /^Bearer /);
  await shot("accepted");

  // 6. Grace exists, in Platform as a Sender; her new token works.
  const users = await gql(
    base,
    adminToken,
    `query Grace { users(filter: { search: "grace.hopper" }) { totalCount nodes { name email team { name } role { key } } } }`,
  );
  assert.equal(users.users.totalCount, 1);
  assert.deepEqual(users.users.nodes[0], {
    name: "Grace Hopper",
    email: "grace.hopper@acme.example",
    team: { name: "Platform" },
    role: { key: "SENDER" },
  });
  const me = await gql(base, header.Authorization.slice("Bearer ".length), `query Me { viewer { name } }`);
  assert.equal(me.viewer.name, "Grace Hopper");

  // 7. The used link, and a made-up one, show only "no longer valid".
  for (const [name, url] of [
    ["used-link", acceptUrl],
    ["invalid-link", `${base}/accept-invite?token=not-a-real-token`],
  ]) {
    const res = await page.goto(url);
    assert.equal(res.status(), 404);
    const text = (await page.locator("main").innerText()).trim();
    assert.ok(text.startsWith(INVALID), text);
    assert.ok(!/grace|acme|platform|sender/i.test(text), `nothing else is revealed: ${text}`);
    assert.equal(await page.locator("form").count(), 0);
    await shot(name);
  }

  // 8. GraphiQL opens with its example query, and with ?query= when given.
  await page.goto(`${base}/graphql`);
  await page.getByText("query Start").first().waitFor({ timeout: 30_000 });
  await shot("graphiql-example");
  await page.goto(`${base}/graphql?query=${encodeURIComponent("query FromTheUrl { viewer { name } }")}`);
  await page.getByText("FromTheUrl").first().waitFor({ timeout: 30_000 });
  await shot("graphiql-query-param");

  // 9. A subscription in GraphiQL: the page's fetcher opens a WebSocket (graphql-transport-ws,
  //    the headers editor's token in connection_init) and shows events as changes are made.
  const live = "subscription Live { events { type targetId } }";
  await page.goto(`${base}/graphql?query=${encodeURIComponent(live)}`);
  await page.getByText("subscription Live").first().waitFor({ timeout: 30_000 });
  await page.locator(".graphiql-execute-button").first().click();
  const someone = await gql(
    base,
    adminToken,
    `query Someone { users(first: 1, filter: { search: "grace" }) { nodes { id role { key } } } }`,
  );
  const target = someone.users.nodes[0];
  const manager = lookup.roles.find((r) => r.key === "MANAGER");
  let arrived = false;
  for (let i = 0; i < 10 && !arrived; i++) {
    const role = i % 2 === 0 ? manager.id : sender.id;
    await gql(
      base,
      adminToken,
      `mutation Change($ids: [ID!]!, $role: ID!) { changeUsersRole(input: { userIds: $ids, roleId: $role }) { changedCount } }`,
      { ids: [target.id], role },
    );
    arrived = await page
      .getByText("user.role_changed")
      .first()
      .waitFor({ timeout: 2_000 })
      .then(() => true, () => false);
  }
  assert.ok(arrived, "GraphiQL shows the event of a change made meanwhile");
  await shot("graphiql-subscription");

  console.log("browser journey: ok");
} finally {
  if (browser) await browser.close();
  child.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
}
