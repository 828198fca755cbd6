import { test } from "node:test";
import assert from "node:assert/strict";
import {
  auditFilter,
  canGrant,
  inviteFilter,
  normalizeToken,
  pageArgs,
  parseEmails,
  takeTokenFromHash,
  userFilter,
} from "../src/logic.js";

test("pasted emails split on lines, commas, semicolons and spaces", () => {
  assert.deepEqual(parseEmails("a@x.org, b@x.org;c@x.org\n\n d@x.org e@x.org\r\n"), [
    "a@x.org",
    "b@x.org",
    "c@x.org",
    "d@x.org",
    "e@x.org",
  ]);
});

test("a name with an address in angle brackets keeps the address", () => {
  assert.deepEqual(parseEmails("Ada Lovelace <ada@x.org>, Grace <grace@x.org>\nbob@x.org"), [
    "ada@x.org",
    "grace@x.org",
    "bob@x.org",
  ]);
});

test("invalid entries are kept for the server to name, blank ones dropped", () => {
  assert.deepEqual(parseEmails("not-an-email\n ,, \n ok@x.org"), ["not-an-email", "ok@x.org"]);
  assert.deepEqual(parseEmails("   \n"), []);
});

test("user filter leaves out what is not set", () => {
  assert.deepEqual(userFilter({}), {});
  assert.deepEqual(userFilter({ search: "  ", teamId: "" }), {});
  assert.deepEqual(userFilter({ search: " müller ", teamId: "t1", roleId: "r1", departmentId: "d1" }), {
    search: "müller",
    teamIds: ["t1"],
    roleIds: ["r1"],
    departmentIds: ["d1"],
  });
});

test("invite and audit filters", () => {
  assert.deepEqual(inviteFilter({ status: "" }), {});
  assert.deepEqual(inviteFilter({ status: "PENDING", search: "a" }), { search: "a", statuses: ["PENDING"] });
  assert.deepEqual(auditFilter({ operationId: " op ", actorId: "", targetId: "u1" }), {
    operationId: "op",
    targetId: "u1",
  });
});

test("page arguments go forward from after and backward from before", () => {
  assert.deepEqual(pageArgs({}, 20), { first: 20 });
  assert.deepEqual(pageArgs({ after: "c" }, 20), { first: 20, after: "c" });
  assert.deepEqual(pageArgs({ before: "c" }, 20), { last: 20, before: "c" });
});

test("a role is grantable only when not wider and not more powerful", () => {
  const manager = { scope: "TEAM", permissions: ["USERS_VIEW", "USERS_INVITE", "USERS_CHANGE_ROLE"] };
  assert.equal(canGrant(manager, { scope: "SELF", permissions: [] }), true);
  assert.equal(canGrant(manager, { scope: "TEAM", permissions: ["USERS_VIEW"] }), true);
  assert.equal(canGrant(manager, { scope: "DEPARTMENT", permissions: [] }), false);
  assert.equal(canGrant(manager, { scope: "TEAM", permissions: ["USERS_DELETE"] }), false);
  assert.equal(canGrant(manager, { scope: "BOGUS", permissions: [] }), false);
});

test("the token is taken out of the hash, other parameters stay", () => {
  assert.deepEqual(takeTokenFromHash("#token=abc.def"), { token: "abc.def", rest: "" });
  assert.deepEqual(takeTokenFromHash("#token=abc&x=1"), { token: "abc", rest: "#x=1" });
  assert.equal(takeTokenFromHash("#users"), null);
  assert.equal(takeTokenFromHash(""), null);
});

test("a pasted token may be bare, a header line or GraphiQL's JSON", () => {
  assert.equal(normalizeToken(" eyJ.a.b "), "eyJ.a.b");
  assert.equal(normalizeToken("Bearer eyJ.a.b"), "eyJ.a.b");
  assert.equal(normalizeToken("Authorization: Bearer eyJ.a.b"), "eyJ.a.b");
  assert.equal(normalizeToken('{"Authorization":"Bearer eyJ.a.b"}'), "eyJ.a.b");
});
