// A real flow through the official GitHub client, @octokit/rest, against the mock GitHub: the
// mock must answer as GitHub does for an independent client to work. Run by
// ../octokit_flow.rs with MOCK_URL (the mock's API root) and OCTOKIT_DIR (where
// .ci/tools/npm-octokit.sh installed the package). Exits non-zero with a message on the first
// surprise; the last line says how many steps passed.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import assert from "node:assert/strict";

const base = process.env.MOCK_URL;
const dir = process.env.OCTOKIT_DIR;
const { Octokit } = await import(
  pathToFileURL(join(dir, "node_modules/@octokit/rest/dist-src/index.js")).href
);
const octokit = new Octokit({ baseUrl: base, auth: "mock-token", userAgent: "orchestrator-octokit-flow" });
const owner = "acme";
const repo = "app";
let steps = 0;
const step = (name) => {
  steps += 1;
  console.log(`ok ${steps} ${name}`);
};

// A client's first calls.
const me = await octokit.rest.users.getAuthenticated();
assert.equal(typeof me.data.login, "string");
step("users.getAuthenticated");
const { data: info } = await octokit.rest.repos.get({ owner, repo });
assert.equal(info.full_name, "acme/app");
assert.equal(info.default_branch, "main");
step("repos.get");
const limits = await octokit.rest.rateLimit.get();
assert.ok(limits.data.resources.core.limit > 0);
step("rateLimit.get");
const { data: ref } = await octokit.rest.git.getRef({ owner, repo, ref: "tags/v1.0.0" });
assert.equal(ref.ref, "refs/tags/v1.0.0");
step("git.getRef");

// Releases and assets.
const { data: release } = await octokit.rest.repos.createRelease({ owner, repo, tag_name: "v1.0.0", name: "1.0.0", body: "notes" });
const bytes = Buffer.from("the asset's bytes\n");
const { data: uploaded } = await octokit.rest.repos.uploadReleaseAsset({
  owner, repo, release_id: release.id, name: "app-1.0.0.tar.gz", data: bytes, baseUrl: base,
  headers: { "content-type": "application/octet-stream", "content-length": bytes.length },
});
assert.equal(uploaded.state, "uploaded");
step("repos.createRelease + uploadReleaseAsset");
await octokit.rest.repos.createRelease({ owner, repo, tag_name: "v1.1.0" });
const all = await octokit.paginate(octokit.rest.repos.listReleases, { owner, repo, per_page: 1 });
assert.deepEqual(all.map((r) => r.tag_name), ["v1.1.0", "v1.0.0"]);
step("paginate(repos.listReleases) across Link pages");
const { data: byTag } = await octokit.rest.repos.getReleaseByTag({ owner, repo, tag: "v1.0.0" });
assert.equal(byTag.assets.length, 1);
const { data: asset } = await octokit.rest.repos.getReleaseAsset({ owner, repo, asset_id: byTag.assets[0].id });
assert.equal(asset.name, "app-1.0.0.tar.gz");
assert.equal(asset.size, bytes.length);
step("repos.getReleaseAsset (JSON)");
const download = await octokit.rest.repos.getReleaseAsset({
  owner, repo, asset_id: asset.id, headers: { accept: "application/octet-stream" },
});
assert.equal(Buffer.from(download.data).toString(), bytes.toString());
step("repos.getReleaseAsset (application/octet-stream)");
const browser = await fetch(asset.browser_download_url);
assert.equal(browser.status, 200);
assert.equal(await browser.text(), bytes.toString());
step("browser_download_url");

// Actions.
const dispatched = await octokit.rest.actions.createWorkflowDispatch({
  owner, repo, workflow_id: "release.yml", ref: "main", inputs: { version: "1.0.0" },
});
assert.equal(dispatched.status, 204);
const detailed = await octokit.request("POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", {
  owner, repo, workflow_id: "release.yml", ref: "main", inputs: { version: "1.0.1" }, return_run_details: true,
});
assert.equal(detailed.status, 200);
assert.ok(detailed.data.workflow_run_id > 0);
step("actions.createWorkflowDispatch (204, and 200 with return_run_details)");
const { data: run } = await octokit.rest.actions.getWorkflowRun({ owner, repo, run_id: detailed.data.workflow_run_id });
assert.equal(run.event, "workflow_dispatch");
const { data: runs } = await octokit.rest.actions.listWorkflowRuns({ owner, repo, workflow_id: "release.yml" });
assert.ok(runs.total_count >= 2);
const { data: jobs } = await octokit.rest.actions.listJobsForWorkflowRun({ owner, repo, run_id: run.id });
assert.equal(jobs.jobs[0].run_id, run.id);
step("actions.getWorkflowRun, listWorkflowRuns, listJobsForWorkflowRun");
await assert.rejects(
  octokit.rest.actions.createWorkflowDispatch({ owner, repo, workflow_id: "missing.yml", ref: "main" }),
  (e) => e.status === 404,
);
step("dispatching a missing workflow is a 404");

// A pull request, labelled and commented.
const { data: pull } = await octokit.rest.pulls.create({ owner, repo, title: "A feature", head: "feature", base: "main", body: "please" });
assert.equal(pull.head.ref, "feature");
assert.equal(pull.base.repo.full_name, "acme/app");
step("pulls.create");
await assert.rejects(
  octokit.rest.pulls.create({ owner, repo, title: "Ghost", head: "no-such-branch", base: "main" }),
  (e) => e.status === 422,
);
step("a pull request from a missing branch is a 422");
const { data: labels } = await octokit.rest.issues.addLabels({ owner, repo, issue_number: pull.number, labels: ["release"] });
assert.deepEqual(labels.map((l) => l.name), ["release"]);
const { data: comment } = await octokit.rest.issues.createComment({ owner, repo, issue_number: pull.number, body: "LGTM" });
assert.equal(comment.body, "LGTM");
const { data: listed } = await octokit.rest.issues.listComments({ owner, repo, issue_number: pull.number });
assert.equal(listed.length, 1);
const { data: heads } = await octokit.rest.pulls.list({ owner, repo, head: "acme:feature" });
assert.equal(heads.length, 1);
step("issues.addLabels, createComment, listComments; pulls.list by head");

console.log(`octokit flow: ${steps} steps passed`);
