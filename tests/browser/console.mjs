// The admin console's journey in real headless Chromium, against a real `roster demo` on
// a free port: sign in as the Admin with the demo's role picker, search users, select two,
// change their role through the dry-run confirmation; invite two addresses (one invalid:
// its row shows the error and nothing is written; then both valid); read the email in the
// demo mailbox and accept, which opens the console as the new member; the Admin sees them,
// changes their role and deletes them. Then a Manager sees only their team and a Sender
// no admin screens. Every step leaves a screenshot in tests/browser/screenshots/console-*.
//
//   ROSTER_BIN=target/debug/roster CHROMIUM=/usr/bin/chromium node console.mjs
//   CONSOLE_BASE=http://127.0.0.1:8080 ADMIN_TOKEN=… node console.mjs   # against a running demo
//
// tests/browser/run installs what this needs and runs it after journey.mjs.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.ROSTER_BIN ?? join(here, "../../target/debug/roster");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = join(here, "screenshots");

mkdirSync(SHOTS, { recursive: true });
for (const f of readdirSync(SHOTS)) if (f.startsWith("console-")) rmSync(join(SHOTS, f));
const work = mkdtempSync(join(tmpdir(), "roster-console-"));

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
      const url = out.match(/The console[^\n]*:\s+(http:\/\/127\.0\.0\.1:\d+)\/console/);
      const admin = out.match(/^Admin +\S+ +Authorization: Bearer (\S+)$/m);
      if (url && admin && /^Sender/m.test(out)) {
        clearTimeout(timer);
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

const demo = process.env.CONSOLE_BASE
  ? { child: null, ready: Promise.resolve({ base: process.env.CONSOLE_BASE, adminToken: process.env.ADMIN_TOKEN }) }
  : startDemo();
let browser;
let step = 0;
try {
  const { base, adminToken } = await demo.ready;
  await waitReady(base);
  console.log(`roster demo at ${base}`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  const viewport = { width: 1366, height: 800 };
  const admin = await (await browser.newContext({ viewport })).newPage();
  const shot = async (page, name) => {
    step += 1;
    const file = join(SHOTS, `console-${String(step).padStart(2, "0")}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`  screenshot ${file}`);
  };
  const usersTable = (page) => page.locator("table.list tbody");
  const rowFor = (page, email) => page.locator(`tr[data-email="${email}"]`);
  const roleOf = async (email) => {
    const data = await gql(
      base,
      adminToken,
      `query RoleOf($q: String!) { users(filter: { search: $q }) { nodes { email role { key name } } } }`,
      { q: email },
    );
    return data.users.nodes.find((u) => u.email === email)?.role ?? null;
  };

  // 1. The sign-in page offers the demo's roles; the Admin signs in and lands on Users.
  await admin.goto(`${base}/console`);
  await admin.getByRole("heading", { name: "Demo: sign in as" }).waitFor();
  assert.ok(await admin.getByLabel(/Access token/).isVisible(), "a token can be pasted too");
  await shot(admin, "sign-in");
  await admin.getByRole("button", { name: "Admin", exact: true }).click();
  await admin.getByRole("heading", { name: "Users" }).waitFor();
  assert.match(await admin.locator("#who").innerText(), /Ada Lovelace · Admin/);
  await shot(admin, "users");

  // 2. Search as you type: only matching people remain.
  await admin.getByLabel("Search name or email").fill("müller");
  await admin.waitForFunction(() => {
    const rows = [...document.querySelectorAll("table.list tbody tr[data-email]")];
    return rows.length > 0 && rows.every((r) => /müller/i.test(r.textContent ?? ""));
  });
  // Two Senders, so the change to Manager changes both.
  const emails = await usersTable(admin).locator("tr[data-email]").evaluateAll((rows) =>
    rows.filter((r) => r.children[3]?.textContent === "Sender").map((r) => r.getAttribute("data-email")),
  );
  assert.ok(emails.length >= 2, `two Senders among ${emails}`);
  const [first, second] = emails;
  await shot(admin, "search");

  // 3. Select two, Change Role to Manager: the dry run shows each user's result first.
  for (const email of [first, second]) await rowFor(admin, email).getByRole("checkbox").check();
  assert.equal(await admin.locator("#selected-count").innerText(), "2 selected");
  await admin.getByLabel("New role").selectOption({ label: "Manager" });
  await admin.getByRole("button", { name: "Change role…" }).click();
  await admin.locator("#dry-run-summary").waitFor();
  assert.match(await admin.locator("#dry-run-summary").innerText(), /^Dry run: 2 of 2 would change/);
  assert.equal(await admin.locator("table.dry-run td.ok").count(), 2);
  // Nothing is written by the dry run.
  assert.notEqual((await roleOf(first)).key, "MANAGER");
  await shot(admin, "change-role-dry-run");
  await admin.getByRole("button", { name: "Commit change" }).click();
  await admin.getByRole("status").filter({ hasText: /^Done: 2 changed/ }).waitFor();
  assert.equal((await roleOf(first)).key, "MANAGER");
  assert.equal((await roleOf(second)).key, "MANAGER");
  await admin.waitForFunction(
    (email) => document.querySelector(`tr[data-email="${email}"]`)?.textContent?.includes("Manager"),
    first,
  );
  await shot(admin, "change-role-committed");

  // 4. Invite two addresses, one invalid: its row names the error, nothing is written.
  const newcomer = "nora.newcomer@acme.example";
  const other = "otto.other@acme.example";
  await admin.getByRole("button", { name: "Invite users", exact: true }).click();
  await admin.getByLabel("Team").selectOption({ label: "Platform" });
  await admin.getByLabel("Role").selectOption({ label: "Sender" });
  await admin.getByLabel(/Email addresses/).fill(`${newcomer}\nnot-an-email`);
  await admin.getByRole("button", { name: "Invite", exact: true }).click();
  await rowFor(admin, "not-an-email").locator("td.error").waitFor();
  assert.match(await rowFor(admin, "not-an-email").innerText(), /INVALID_EMAIL/);
  assert.match(await rowFor(admin, newcomer).innerText(), /not sent/);
  const none = await gql(base, adminToken, `query I($q: String!) { invites(filter: { search: $q }) { totalCount } }`, {
    q: newcomer,
  });
  assert.equal(none.invites.totalCount, 0, "nothing was written");
  await shot(admin, "invite-refused");
  await admin.getByLabel(/Email addresses/).fill(`${newcomer}, ${other}`);
  await admin.getByRole("button", { name: "Invite", exact: true }).click();
  await admin.getByRole("status").filter({ hasText: /^Invited 2/ }).waitFor();
  await shot(admin, "invite-sent");

  // 5. The email, in the demo's mailbox, in another tab; accept it there.
  const invitee = await (await browser.newContext({ viewport })).newPage();
  let found = false;
  for (let i = 0; i < 40 && !found; i++) {
    await invitee.goto(`${base}/demo/mail`);
    found = (await invitee.locator("td.to", { hasText: newcomer }).count()) > 0;
    if (!found) await invitee.waitForTimeout(250);
  }
  assert.ok(found, "the invitation shows up in /demo/mail");
  await invitee.locator("tr.mail", { hasText: newcomer }).getByRole("link").first().click();
  await invitee.locator("#accept-link").click();
  await invitee.getByLabel("Your name").fill("Nora Newcomer");
  await invitee.getByRole("button", { name: "Accept invitation" }).click();
  await invitee.locator("#accepted").waitFor({ state: "visible" });
  await shot(invitee, "accepted");

  // 6. "What next" opens the console as Nora (a Sender): only who she is, no admin screens;
  //    the token has left the address bar.
  await invitee.locator("#console-link").click();
  await invitee.getByRole("heading", { name: "Me" }).waitFor();
  assert.equal(new URL(invitee.url()).hash, "", "the token is removed from the URL");
  assert.match(await invitee.locator("#who").innerText(), /Nora Newcomer · Sender/);
  assert.deepEqual(await invitee.getByRole("navigation", { name: "Screens" }).getByRole("button").allInnerTexts(), ["Me"]);
  await shot(invitee, "newcomer-console");

  // 7. The Admin finds Nora, makes her a Manager, then deletes her.
  await admin.getByRole("button", { name: "Users", exact: true }).click();
  await admin.getByLabel("Search name or email").fill("nora.newcomer");
  await rowFor(admin, newcomer).waitFor();
  assert.match(await rowFor(admin, newcomer).innerText(), /Nora Newcomer[\s\S]*Sender[\s\S]*Platform/);
  await shot(admin, "newcomer-found");
  await rowFor(admin, newcomer).getByRole("checkbox").check();
  await admin.getByLabel("New role").selectOption({ label: "Manager" });
  await admin.getByRole("button", { name: "Change role…" }).click();
  await admin.locator("#dry-run-summary").waitFor();
  await admin.getByRole("button", { name: "Commit change" }).click();
  await admin.getByRole("status").filter({ hasText: /^Done: 1 changed/ }).waitFor();
  assert.equal((await roleOf(newcomer)).key, "MANAGER");
  await shot(admin, "newcomer-manager");
  await rowFor(admin, newcomer).getByRole("checkbox").check();
  await admin.getByRole("button", { name: "Delete…" }).click();
  await admin.locator("#dry-run-summary").waitFor();
  assert.equal(await roleOf(newcomer).then((r) => r?.key), "MANAGER", "the dry run deletes nothing");
  await shot(admin, "delete-dry-run");
  await admin.getByRole("button", { name: "Delete", exact: true }).click();
  await admin.getByRole("status").filter({ hasText: /^Done: 1 changed/ }).waitFor();
  await admin.getByText("No users match.").waitFor();
  assert.equal(await roleOf(newcomer), null, "Nora is gone");
  await shot(admin, "newcomer-deleted");

  // 8. Invited users: Otto's invitation is withdrawn through the dry run.
  await admin.getByRole("button", { name: "Invited users", exact: true }).click();
  await admin.getByLabel("Status").selectOption({ label: "Pending" });
  await admin.getByLabel("Search email").fill("otto.other");
  await rowFor(admin, other).waitFor();
  await rowFor(admin, other).getByRole("checkbox").check();
  await admin.getByRole("button", { name: "Withdraw…" }).click();
  await admin.locator("#dry-run-summary").waitFor();
  assert.match(await admin.locator("#dry-run-summary").innerText(), /^Dry run: 1 of 1 would change/);
  await shot(admin, "withdraw-dry-run");
  await admin.getByRole("button", { name: "Withdraw", exact: true }).click();
  await admin.getByRole("status").filter({ hasText: /^Done: 1 changed/ }).waitFor();
  await admin.getByText("No invitations match.").waitFor(); // no longer pending
  await admin.getByLabel("Status").selectOption({ label: "Withdrawn" });
  await rowFor(admin, other).waitFor();
  await shot(admin, "withdrawn");

  // 9. The audit log: the newest event is the withdrawal; its operation filters the log.
  await admin.getByRole("button", { name: "Audit log", exact: true }).click();
  const newest = admin.locator("table.audit tbody tr").first();
  await newest.filter({ hasText: "invite.withdrawn" }).waitFor();
  await newest.getByRole("button").last().click();
  // One withdrawal, one event: the filtered page has exactly that row.
  await admin.waitForFunction(
    () =>
      document.getElementById("audit-operationId")?.value !== "" &&
      document.querySelector("table.audit")?.getAttribute("aria-busy") === "false" &&
      document.querySelectorAll("table.audit tbody tr").length === 1,
  );
  assert.match(await admin.locator("table.audit tbody tr").innerText(), /invite\.withdrawn[\s\S]*otto\.other/);
  await shot(admin, "audit-by-operation");

  // 10. Teams: create, rename, delete (the browser's confirm is accepted).
  admin.on("dialog", (dialog) => dialog.accept());
  await admin.getByRole("button", { name: "Teams & departments", exact: true }).click();
  await admin.getByLabel("New team name").fill("Console Crew");
  await admin.getByRole("button", { name: "Create team" }).click();
  await admin.getByRole("button", { name: "Rename Console Crew" }).click();
  await admin.getByLabel("Name of team Console Crew").fill("Console Crew Two");
  await admin.getByRole("button", { name: "Save" }).click();
  await admin.getByRole("button", { name: "Delete team Console Crew Two" }).waitFor();
  await shot(admin, "team-renamed");
  await admin.getByRole("button", { name: "Delete team Console Crew Two" }).click();
  await admin.getByRole("status").filter({ hasText: "Deleted team Console Crew Two." }).waitFor();
  await admin.locator("table.list td", { hasText: "Console Crew" }).waitFor({ state: "detached" });

  // 11. Roles: a custom role from the editor.
  await admin.getByRole("button", { name: "Roles", exact: true }).click();
  await admin.getByRole("button", { name: "New custom role" }).click();
  await admin.getByLabel("Name").fill("Auditor");
  await admin.getByLabel("TEAM", { exact: true }).check();
  await admin.getByLabel("AUDIT_VIEW", { exact: true }).check();
  await admin.getByRole("button", { name: "Create role" }).click();
  await admin.getByRole("status").filter({ hasText: "Created role Auditor." }).waitFor();
  assert.match(await admin.locator("tr", { hasText: "Auditor" }).innerText(), /TEAM[\s\S]*AUDIT_VIEW/);
  await shot(admin, "role-created");

  // 12. A Manager sees only their own team's users.
  const manager = await (await browser.newContext({ viewport })).newPage();
  await manager.goto(`${base}/console`);
  await manager.getByRole("button", { name: "Manager", exact: true }).click();
  await manager.getByRole("heading", { name: "Users" }).waitFor();
  await manager.locator("tr[data-email]").first().waitFor();
  const teamOptions = await manager.getByLabel("Team").locator("option").allInnerTexts();
  assert.equal(teamOptions.length, 2, `one team besides "All teams": ${teamOptions}`);
  const myTeam = teamOptions[1];
  const teams = await manager.locator("tr[data-email] td:nth-child(5)").allInnerTexts();
  assert.ok(teams.length > 0 && teams.every((t) => t === myTeam), `${myTeam}: ${teams}`);
  await shot(manager, "manager-users");
  // Relay pages: Next follows endCursor, Previous comes back with startCursor.
  const firstPage = await manager.locator("tr[data-email]").first().getAttribute("data-email");
  await manager.getByRole("button", { name: "Next →" }).click();
  await manager.waitForFunction(
    (email) => document.querySelector("tr[data-email]")?.getAttribute("data-email") !== email,
    firstPage,
  );
  const secondTeams = await manager.locator("tr[data-email] td:nth-child(5)").allInnerTexts();
  assert.ok(secondTeams.every((t) => t === myTeam), `${myTeam}: ${secondTeams}`);
  await shot(manager, "manager-users-page-2");
  await manager.getByRole("button", { name: "← Previous" }).click();
  await manager.waitForFunction(
    (email) => document.querySelector("tr[data-email]")?.getAttribute("data-email") === email,
    firstPage,
  );
  assert.equal(await manager.getByRole("button", { name: "← Previous" }).isDisabled(), true);
  const nav = await manager.getByRole("navigation", { name: "Screens" }).getByRole("button").allInnerTexts();
  assert.ok(!nav.includes("Audit log"), `${nav}`);
  // Roles wider or more powerful than a Manager's cannot be picked.
  const adminOption = manager.getByLabel("New role").locator("option", { hasText: "Admin" }).first();
  assert.equal(await adminOption.isDisabled(), true);
  assert.match(await adminOption.innerText(), /you cannot grant it/);
  // No team change or delete: a Manager has neither permission.
  assert.equal(await manager.getByRole("button", { name: "Delete…" }).count(), 0);
  assert.equal(await manager.getByRole("button", { name: "Change team…" }).count(), 0);

  // 13. A Sender sees no admin screens, only who they are.
  const sender = await (await browser.newContext({ viewport })).newPage();
  await sender.goto(`${base}/console`);
  await sender.getByRole("button", { name: "Sender", exact: true }).click();
  await sender.getByRole("heading", { name: "Me" }).waitFor();
  assert.deepEqual(await sender.getByRole("navigation", { name: "Screens" }).getByRole("button").allInnerTexts(), ["Me"]);
  assert.equal(await sender.locator("table").count(), 0);
  await shot(sender, "sender-me");

  console.log("console journey: ok");
} finally {
  if (browser) await browser.close();
  demo.child?.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
}
